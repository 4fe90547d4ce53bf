/** Kademlia protocol of the private clawmesh DHT (never the public IPFS one). */
export const DHT_PROTOCOL = '/clawmesh/kad/1.0.0'
/** Gossip topic carrying heartbeats. */
export const HEALTH_TOPIC = '/clawmesh/health/1'
/** LLM request stream protocol. */
export const LLM_PROTOCOL = '/clawmesh/llm/1.0.0'
/** Mission Control status view protocol. */
export const STATUS_PROTOCOL = '/clawmesh/status/1.0.0'
