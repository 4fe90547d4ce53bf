export * from './constants.js'
export {
  type ClawmeshNode,
  type ClawmeshServices,
  type CreateNodeOptions,
  createNode,
} from './create-node.js'
