/**
 * How a peer keeps its security state on disk (peer key, member bindings,
 * adopted manifest, data-dir lock): every write atomic (temp file, fsync,
 * rename, fsync of the directory), so a crash or a full disk leaves the old
 * file or the new one, never a torn or empty one; and a damaged file is a
 * refusal to start that names it and says what to do, never a silent
 * fall-back that weakens trust.
 */
import { randomBytes } from 'node:crypto'
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { ClawmeshError, errorMessage } from '../errors.js'

/** A state file in the data dir is damaged or unreadable; the peer does not start. */
export class StateFileError extends ClawmeshError {
  static override name = 'StateFileError'
  /** The file at fault. */
  readonly file: string
  constructor(file: string, problem: string, remedy: string, options?: ErrorOptions) {
    super('STATE_FILE_INVALID', `${file}: ${problem}; ${remedy}`, options)
    this.file = file
  }
}

/** Another peer holds the data dir. */
export class DataDirLockedError extends ClawmeshError {
  static override name = 'DataDirLockedError'
  constructor(dataDir: string, pid: number) {
    super(
      'DATA_DIR_LOCKED',
      `another clawmesh peer (pid ${pid}) is running on the data dir ${dataDir}; stop it first, or give this one its own --data-dir`,
    )
  }
}

/**
 * Writes `data` to `file` atomically (mode `mode`): a temp file beside it,
 * fsync, rename over `file`, fsync of the directory. With `exclusive`, an
 * existing `file` is never replaced (EEXIST), for a key that must be created once.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: { mode: number; exclusive?: boolean },
): Promise<void> {
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`
  const handle = await open(temp, 'wx', options.mode)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } catch (error) {
    await handle.close().catch(() => undefined)
    await unlink(temp).catch(() => undefined)
    throw error
  }
  await handle.close()
  try {
    // link() fails with EEXIST instead of replacing; rename() replaces atomically.
    if (options.exclusive === true) await link(temp, file)
    else await rename(temp, file)
  } finally {
    // After link() the temp name is a second link to drop; after a failed rename() it is the leftover.
    await unlink(temp).catch(() => undefined)
  }
  await syncDirectory(dirname(file))
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r').catch(() => undefined)
  if (handle === undefined) return
  await handle.sync().catch(() => undefined)
  await handle.close()
}

/** Reads a state file: its text, `undefined` when it does not exist, or a `StateFileError` for any other failure. */
export async function readStateFile(file: string, remedy: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new StateFileError(file, `cannot be read (${errorMessage(error)})`, remedy, { cause: error })
  }
}

/** Lock files this process holds (a lock with our own pid that is not here is a stale one: pids repeat, e.g. pid 1 in a container). */
const heldLocks = new Set<string>()

/** A held data-dir lock. */
export interface DataDirLock {
  /** Removes the lock file (once). */
  release(): Promise<void>
}

/**
 * Takes `lockFile` for this process: created exclusively with our pid. A lock
 * whose pid is still running refuses (`DATA_DIR_LOCKED`); a stale one (its
 * process is gone, or the file is unreadable garbage) is taken over.
 */
export async function lockDataDir(dataDir: string, lockFile: string): Promise<DataDirLock> {
  await mkdir(dirname(lockFile), { recursive: true, mode: 0o700 })
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFileAtomic(lockFile, `${process.pid}\n`, { mode: 0o600, exclusive: true })
      heldLocks.add(lockFile)
      let released = false
      return {
        release: async () => {
          if (released) return
          released = true
          heldLocks.delete(lockFile)
          await unlink(lockFile).catch(() => undefined)
        },
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const pid = Number.parseInt((await readFile(lockFile, 'utf8').catch(() => '')).trim(), 10)
    const ours = pid === process.pid
    if ((ours && heldLocks.has(lockFile)) || (!ours && Number.isInteger(pid) && pid > 0 && isRunning(pid))) {
      throw new DataDirLockedError(dataDir, pid)
    }
    await unlink(lockFile).catch(() => undefined)
  }
  throw new DataDirLockedError(dataDir, Number.NaN)
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
