/**
 * Every sequence of 1..maxLevels levels drawn from `alphabet`, joined with '/', but the empty string
 * (a single empty level): the exhaustive topic and filter lists of the unit tests.
 */
export function allTopics(alphabet: readonly string[], maxLevels: number): string[] {
    const out: string[] = [];
    let layer: string[] = [''];
    for (let depth = 1; depth <= maxLevels; depth++) {
        const next: string[] = [];
        for (const prefix of layer) for (const level of alphabet) next.push(depth === 1 ? level : prefix + '/' + level);
        out.push(...next.filter((t) => t !== ''));
        layer = next;
    }
    return out;
}
