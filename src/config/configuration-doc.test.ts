import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { CONFIGURATION_DOC_PATH, renderConfigurationDoc } from '../../scripts/configuration-doc.js'
import { manifestJsonSchema } from './json-schema.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

interface Node {
  description?: string
  properties?: Record<string, Node>
  items?: Node
  additionalProperties?: boolean | Node
}

/** Every manifest field, as `path` → its schema node. */
function fields(node: Node, at: string, into = new Map<string, Node>()): Map<string, Node> {
  for (const [key, field] of Object.entries(node.properties ?? {})) {
    const where = at === '' ? key : `${at}.${key}`
    into.set(where, field)
    fields(field, where, into)
    if (field.items) fields(field.items, `${where}[]`, into)
    if (typeof field.additionalProperties === 'object')
      fields(field.additionalProperties, `${where}.<name>`, into)
  }
  return into
}

describe('docs/configuration.md', () => {
  it('equals what the zod schema generates (run `npm run docs:config` to update)', async () => {
    const committed = await readFile(path.join(repoRoot, CONFIGURATION_DOC_PATH), 'utf8')
    expect(committed, 'docs/configuration.md is stale: run `npm run docs:config` and commit it').toBe(
      renderConfigurationDoc(),
    )
  })

  it('documents every manifest field, each with a description from the schema', () => {
    const doc = renderConfigurationDoc()
    const all = fields(manifestJsonSchema() as Node, '')
    expect(all.size).toBeGreaterThan(30)
    for (const [where, field] of all) {
      expect(field.description, `${where} needs a .describe() in src/config/schema.ts`).toBeTruthy()
      expect(doc).toMatch(new RegExp(`^\\| \`${where.split('.').at(-1)}\` +\\|`, 'm'))
    }
  })
})
