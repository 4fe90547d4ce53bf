/** Test and benchmark helpers: fake provider servers and the backend contract suite. */
export * from './fake-provider.js'
export * from './start-fake-provider.js'
