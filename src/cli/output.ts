/**
 * The only place that writes human output. Everything else logs through
 * `createLogger` (JSON lines on stderr).
 */

/** Writes a line to stdout. */
export function printLine(text = ''): void {
  process.stdout.write(`${text}\n`)
}

/** Writes `text` to stdout as is, without a newline (for streamed replies). */
export function printText(text: string): void {
  process.stdout.write(text)
}

/** Writes a line to stderr. */
export function printError(text: string): void {
  process.stderr.write(`${text}\n`)
}

/** Pads cells into aligned columns. */
export function formatTable(rows: string[][]): string {
  const widths: number[] = []
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, visibleLength(cell))
    })
  }
  return rows
    .map((row) =>
      row
        .map((cell, index) =>
          index === row.length - 1 ? cell : cell + ' '.repeat((widths[index] ?? 0) - visibleLength(cell)),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes to measure width
const ansi = /\u001b\[[0-9;]*m/g

function visibleLength(text: string): number {
  return text.replace(ansi, '').length
}
