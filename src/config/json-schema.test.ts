import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { MANIFEST_JSON_SCHEMA_PATH, manifestJsonSchema, manifestJsonSchemaText } from './json-schema.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

describe('manifest JSON Schema', () => {
  it('the committed file equals what the zod schema generates (run `npm run schema` to update)', async () => {
    const committed = await readFile(path.join(repoRoot, MANIFEST_JSON_SCHEMA_PATH), 'utf8')
    expect(committed).toBe(manifestJsonSchemaText())
  })

  it('describes the input side: strict objects, trust enum, defaulted fields optional', () => {
    const schema = manifestJsonSchema() as {
      additionalProperties: boolean
      required: string[]
      properties: { federation: { properties: { nodes: { items: { required: string[] } } } } }
    }
    expect(schema.additionalProperties).toBe(false)
    expect(schema.required).toEqual(['federation'])
    expect(schema.properties.federation.properties.nodes.items.required.sort()).toEqual([
      'address',
      'name',
      'trust',
    ])
  })
})
