export * from './advert.js'
export { AdvertStore, type AdvertStoreEvents } from './advert-store.js'
export {
  DiscoveryService,
  type DiscoveryServiceOptions,
  type PublishResult,
  type SelfDescription,
} from './discovery-service.js'
