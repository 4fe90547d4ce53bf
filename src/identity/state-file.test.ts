/**
 * Issue 17, item 4: local state fails safe. Atomic writes, a real full disk
 * (a tiny tmpfs, as root), damaged files refused by name at start, and one
 * peer per data dir.
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { freePort } from '../../test/cli-process.js'
import { parseManifest } from '../config/load.js'
import { ADOPTED_MANIFEST_FILE } from '../control/adopted-manifest.js'
import { createLogger } from '../log.js'
import { MEMBERS_FILE, MemberDirectory } from '../net/member-directory.js'
import { createPeer, DATA_DIR_LOCK_FILE, type Peer } from '../peer.js'
import { generateFederationKey, signManifestText } from './federation-key.js'
import { loadOrCreatePeerKey, PEER_KEY_FILE } from './peer-key.js'
import { lockDataDir, writeFileAtomic } from './state-file.js'

const log = createLogger('test')
const dirs: string[] = []
const mounts: string[] = []
const peers: Peer[] = []
const tempDir = async (): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'clawmesh-state-'))
  dirs.push(dir)
  return dir
}
afterEach(async () => {
  await Promise.all(peers.splice(0).map((peer) => peer.stop()))
})
afterAll(async () => {
  for (const mount of mounts) execFileSync('umount', [mount])
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
})

/** A tmpfs of `size` at a new directory: a disk that really fills up (root only). */
async function smallDisk(size: string): Promise<string> {
  const dir = await tempDir()
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir])
  mounts.push(dir)
  return dir
}

/** Fills `dir`'s file system until it refuses another byte. */
async function fill(dir: string): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 1)
  for (let index = 0; ; index++) {
    try {
      await writeFile(join(dir, `filler-${index}`), chunk)
    } catch {
      break
    }
  }
  for (let index = 0; ; index++) {
    try {
      await writeFile(join(dir, `crumb-${index}`), 'x')
    } catch {
      return
    }
  }
}

async function manifestFor(
  nodes: number,
): Promise<{ text: string; key: ReturnType<typeof generateFederationKey> }> {
  const key = generateFederationKey()
  const document = {
    federation: {
      key: key.publicKey,
      nodes: await Promise.all(
        Array.from({ length: nodes }, async (_, index) => ({
          name: `n${index}`,
          address: `127.0.0.1:${await freePort()}`,
          souls: [`s${index}`],
          trust: 'high',
        })),
      ),
    },
  }
  return { text: signManifestText(stringify(document), key.privateKey, { version: 1 }), key }
}

describe('state files', () => {
  it('writes atomically: replaces whole, refuses to replace when exclusive, leaves no temp file', async () => {
    const dir = await tempDir()
    const file = join(dir, 'state')
    await writeFileAtomic(file, 'one', { mode: 0o600 })
    await writeFileAtomic(file, 'two', { mode: 0o600 })
    expect(await readFile(file, 'utf8')).toBe('two')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    await expect(writeFileAtomic(file, 'three', { mode: 0o600, exclusive: true })).rejects.toMatchObject({
      code: 'EEXIST',
    })
    expect(await readFile(file, 'utf8')).toBe('two')
    expect(await readdir(dir)).toEqual(['state'])
  })

  it('a full disk leaves no empty peer.key, and the next start on free space works', async () => {
    const disk = await smallDisk('256k')
    await fill(disk)
    const dataDir = join(disk, 'data')
    await mkdir(dataDir).catch(() => undefined)
    await expect(loadOrCreatePeerKey(dataDir)).rejects.toMatchObject({ code: 'PEER_KEY_INVALID' })
    expect(await readdir(dataDir).catch(() => [])).not.toContain(PEER_KEY_FILE)
    for (const name of await readdir(disk)) if (name.startsWith('filler-0')) await rm(join(disk, name))
    const identity = await loadOrCreatePeerKey(dataDir)
    expect(identity.created).toBe(true)
    expect((await readFile(join(dataDir, PEER_KEY_FILE))).byteLength).toBeGreaterThan(0)
  })

  it('a first-use binding that cannot be saved (ENOSPC) is refused, not kept unbound', async () => {
    const disk = await smallDisk('256k')
    const manifest = parseManifest((await manifestFor(2)).text, 'm.yaml')
    const directory = await MemberDirectory.load(manifest, disk, log)
    const lost: string[] = []
    directory.onBindingLost((peerId, name) => lost.push(`${name}=${peerId}`))
    await fill(disk)
    directory.claim('12D3KooWImpostorOrNot', 'n1')
    await directory.flush()
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(lost).toEqual(['n1=12D3KooWImpostorOrNot'])
    expect(directory.isMember('12D3KooWImpostorOrNot')).toBe(false)
    await expect(readFile(join(disk, MEMBERS_FILE), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('a damaged members.json, adopted manifest or peer key refuses to start, naming the file and the remedy', async () => {
    const { text } = await manifestFor(1)
    const manifest = parseManifest(text, 'm.yaml')
    const start = (dataDir: string) =>
      createPeer({ manifest, manifestText: text, node: 'n0', dataDir, api: false, log })

    const members = await tempDir()
    await writeFile(join(members, MEMBERS_FILE), '{"n0": "12D3Koo')
    const membersError = await start(members).catch((error: unknown) => error)
    expect(membersError).toMatchObject({ code: 'STATE_FILE_INVALID' })
    expect(String((membersError as Error).message)).toContain(join(members, MEMBERS_FILE))
    expect(String((membersError as Error).message)).toContain('restore it from a backup')

    const adopted = await tempDir()
    await writeFile(join(adopted, ADOPTED_MANIFEST_FILE), 'federation: [garbage')
    const adoptedError = await start(adopted).catch((error: unknown) => error)
    expect(adoptedError).toMatchObject({ code: 'STATE_FILE_INVALID' })
    expect(String((adoptedError as Error).message)).toContain(ADOPTED_MANIFEST_FILE)

    const key = await tempDir()
    await writeFile(join(key, PEER_KEY_FILE), '')
    const keyError = await start(key).catch((error: unknown) => error)
    expect(keyError).toMatchObject({ code: 'PEER_KEY_INVALID' })
    expect(String((keyError as Error).message)).toMatch(/peer\.key is empty; restore it/)
    // A refused start leaves the data dir unlocked for the next (fixed) attempt.
    await expect(readFile(join(key, DATA_DIR_LOCK_FILE))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('one peer per data dir: a second is refused while the first runs; a stale lock is taken over', async () => {
    const { text } = await manifestFor(1)
    const manifest = parseManifest(text, 'm.yaml')
    const dataDir = await tempDir()
    const start = () => createPeer({ manifest, manifestText: text, node: 'n0', dataDir, api: false, log })
    const first = await start()
    peers.push(first)
    await expect(start()).rejects.toMatchObject({ code: 'DATA_DIR_LOCKED' })
    await first.stop()
    peers.pop()
    peers.push(await start())
    await peers.pop()?.stop()

    // Another live process holds it: refused, naming its pid; once that process is gone, taken over.
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
    await new Promise((resolve) => holder.once('spawn', resolve))
    const lockFile = join(dataDir, DATA_DIR_LOCK_FILE)
    await writeFile(lockFile, `${holder.pid}\n`)
    await expect(lockDataDir(dataDir, lockFile)).rejects.toThrow(`pid ${holder.pid}`)
    holder.kill('SIGKILL')
    await new Promise((resolve) => holder.once('exit', resolve))
    const lock = await lockDataDir(dataDir, lockFile)
    expect((await readFile(lockFile, 'utf8')).trim()).toBe(String(process.pid))
    await lock.release()
  })
})
