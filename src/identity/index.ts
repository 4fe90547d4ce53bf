export { loadOrCreatePeerKey, PEER_KEY_FILE, type PeerIdentity, PeerKeyError } from './peer-key.js'
