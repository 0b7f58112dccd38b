/**
 * "Did you mean …?" for a mistyped command: the command closest to what was typed, by edit
 * distance, or none when nothing is close (`sessionctl frobnicate` gets the list, not a guess).
 * `typed` and `commands` use spaces between words, as the operator types them. Words after the
 * command (positional arguments, which oclif folds into the unknown id) are tried away: for
 * `sessions purg 42` the candidate is `sessions purg`. A lone word is also compared with each
 * command's last word, so `list` suggests `sessions list`. `commands` may hold topics too.
 */
export function closestCommand(typed: string, commands: readonly string[]): string | undefined {
  const words = typed.split(' ').filter(Boolean)
  let best: undefined | {command: string; distance: number}
  for (let n = words.length; n >= 1; n--) {
    const attempt = words.slice(0, n).join(' ')
    for (const command of commands) {
      const lastWord = command.split(' ').at(-1)!
      const distance = Math.min(editDistance(attempt, command), n === 1 && words.length === 1 ? editDistance(attempt, lastWord) : Infinity)
      // close enough to be a typo: 1 edit for short words, about one in three for longer ones
      if (distance > Math.max(1, Math.floor(attempt.length / 3))) continue
      // a tie goes to the longer common start (`sesion`: sessions, not version)
      if (!best || distance < best.distance || (distance === best.distance && commonStart(attempt, command) > commonStart(attempt, best.command))) {
        best = {command, distance}
      }
    }

    // the most words that match something: `sessions purg 42` means sessions purge, not the topic
    if (best) break
  }

  return best?.command
}

function commonStart(a: string, b: string): number {
  let i = 0
  while (i < a.length && a[i] === b[i]) i++
  return i
}

/**
 * Edit distance: insertions, deletions, substitutions and swaps of two neighbours (`hlep` is one
 * edit from `help`), three rows at a time.
 */
function editDistance(a: string, b: string): number {
  let beforePrevious: number[] = []
  let previous = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j], beforePrevious[j - 2] + 1)
    }

    beforePrevious = previous
    previous = row
  }

  return previous[b.length]
}
