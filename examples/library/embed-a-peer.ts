/**
 * A program that embeds a clawmesh peer and asks a question for one of its
 * souls. Run beside a federation whose manifest names this node:
 *
 *   npx tsx examples/library/embed-a-peer.ts clawmesh.yaml home inbox-triage "Summarise my inbox"
 */
import { createPeer, loadManifest } from '../../src/index.js'

const [manifestFile = 'clawmesh.yaml', node = 'home', soul = 'inbox-triage', prompt = 'Hello!'] =
  process.argv.slice(2)

const peer = await createPeer({
  manifest: await loadManifest(manifestFile),
  node,
  dataDir: `.clawmesh-${node}`,
  api: false,
})
try {
  // An empty model means the soul's default backend and model (manifest `souls:` or the first it may use).
  for await (const part of peer.chat({
    soul,
    model: '',
    request: { messages: [{ role: 'user', content: prompt }] },
  })) {
    if (part.type === 'text-delta') process.stdout.write(part.text)
    if (part.type === 'tool-call') process.stdout.write(`\n[tool call] ${part.name}(${part.arguments})\n`)
  }
  process.stdout.write('\n')
} finally {
  await peer.stop()
}
