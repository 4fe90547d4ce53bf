import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadOrCreatePeerKey, PEER_KEY_FILE } from './peer-key.js'

describe('peer key', () => {
  const dirs: string[] = []
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'clawmesh-key-'))
    dirs.push(dir)
    return dir
  }
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
  })

  it('creates an Ed25519 key with mode 0600 and reuses it', async () => {
    const dir = join(await tempDir(), 'nested', 'data')
    const first = await loadOrCreatePeerKey(dir)
    expect(first.created).toBe(true)
    expect(first.privateKey.type).toBe('Ed25519')
    expect((await stat(join(dir, PEER_KEY_FILE))).mode & 0o777).toBe(0o600)
    const again = await loadOrCreatePeerKey(dir)
    expect(again.created).toBe(false)
    expect(again.peerId.toString()).toBe(first.peerId.toString())
  })

  it('rejects a corrupt key file with a named error instead of replacing it', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, PEER_KEY_FILE), 'not a key')
    await expect(loadOrCreatePeerKey(dir)).rejects.toMatchObject({
      name: 'PeerKeyError',
      code: 'PEER_KEY_INVALID',
    })
    expect(await readFile(join(dir, PEER_KEY_FILE), 'utf8')).toBe('not a key')
  })
})
