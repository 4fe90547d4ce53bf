import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Manifest } from '../config/schema.js'
import { createLogger } from '../log.js'
import { MEMBERS_FILE, MemberDirectory } from './member-directory.js'

const log = createLogger('test')
const pinned = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
const manifest = (pin = pinned) =>
  Manifest.parse({
    federation: {
      nodes: [
        { name: 'home', address: '127.0.0.1:1', trust: 'high', peer_id: pin },
        { name: 'vps', address: '127.0.0.1:2', trust: 'low' },
        { name: 'fast', address: '127.0.0.1:3', trust: 'medium' },
      ],
    },
  })

describe('MemberDirectory', () => {
  const dirs: string[] = []
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
  })
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clawmesh-members-'))
    dirs.push(dir)
    return dir
  }

  it('binds a pinned name only to its peer_id', async () => {
    const directory = await MemberDirectory.load(manifest(), await tempDir(), log)
    expect(directory.claim(pinned, 'home').name).toBe('home')
    expect(() => directory.claim('12D3KooWOther', 'home')).toThrow(
      expect.objectContaining({ code: 'PEER_ID_MISMATCH' }),
    )
    expect(directory.isMember('12D3KooWOther')).toBe(false)
  })

  it('binds an unpinned name on first use, persists it (0600), and refuses a second peer', async () => {
    const dir = await tempDir()
    const directory = await MemberDirectory.load(manifest(), dir, log)
    expect(() => directory.claim('peer-a', 'nowhere')).toThrow(
      expect.objectContaining({ code: 'NOT_A_MEMBER' }),
    )
    expect(directory.claim('peer-a', 'vps').name).toBe('vps')
    expect(() => directory.claim('peer-b', 'vps')).toThrow(expect.objectContaining({ code: 'NAME_TAKEN' }))
    expect(() => directory.claim('peer-a', 'fast')).toThrow(expect.objectContaining({ code: 'NAME_TAKEN' }))
    await directory.flush()
    expect(JSON.parse(await readFile(join(dir, MEMBERS_FILE), 'utf8'))).toEqual({ vps: 'peer-a' })
    expect((await stat(join(dir, MEMBERS_FILE))).mode & 0o777).toBe(0o600)

    const reloaded = await MemberDirectory.load(manifest(), dir, log)
    expect(reloaded.nodeOf('peer-a')?.name).toBe('vps')
    expect(() => reloaded.claim('peer-b', 'vps')).toThrow(expect.objectContaining({ code: 'NAME_TAKEN' }))
  })

  it('reports who stops being a member when a newer manifest drops or re-pins a node', async () => {
    const directory = await MemberDirectory.load(manifest(), await tempDir(), log)
    directory.claim('peer-a', 'vps')
    directory.claim('peer-c', 'fast')
    const next = Manifest.parse({
      federation: {
        nodes: [
          { name: 'home', address: '127.0.0.1:1', trust: 'high', peer_id: pinned },
          { name: 'fast', address: '127.0.0.1:3', trust: 'medium' },
        ],
      },
    })
    expect(directory.update(next, [pinned, 'peer-a', 'peer-c'])).toEqual(['peer-a'])
    expect(directory.isMember('peer-c')).toBe(true)
    expect(directory.isMember('peer-a')).toBe(false)
    await directory.flush()
  })
})
