// How many nodes a YAML text can hold, counted before parsing it: the yaml
// library builds a whole document tree, whose memory the byte caps alone do
// not bound.

/**
 * The size cap alone does not bound a YAML tree: its heap grows with the
 * number of nodes, and short items pack many into few bytes (8 MiB of
 * `[a,a,...]` took 4.5 GB and would exhaust V8's heap). Every node but the
 * first starts after one of these characters: , : - [ { ? or a line break;
 * and ] } " ' ! & * become an error object or a node of their own wherever
 * they stand (1 MB of ']' alone took 2 GB), so they are counted too: the
 * count bounds the nodes and errors (a tree costs at most ~2 KB each). Real
 * files stay far below: a 10,000-VM inventory ~220,000 (urls and instanceIds quoted), an 8 MiB
 * allow-list ~270,000 unquoted.
 */
export const MAX_YAML_STRUCTURE = 1_000_000;

/** How many characters of `text` could start a YAML node (see MAX_YAML_STRUCTURE); stops counting past `max`. */
export function yamlStructureCount(text: string, max = MAX_YAML_STRUCTURE): number {
  let count = 0;
  for (let i = 0; i < text.length && count <= max; i++) {
    const c = text.charCodeAt(i);
    // \n , : - [ { ?, and what the parser turns into an error object or a node of its own wherever it
    // stands, at a kilobyte or two each: ] } (unmatched closers) " ' (adjacent quoted scalars) ! & * (tags,
    // anchors, aliases). Uncounted, 1 MB of ']' took 2 GB of heap and 8 MiB exhausted it.
    if (c === 10 || c === 44 || c === 58 || c === 45 || c === 91 || c === 123 || c === 63) count++;
    else if (c === 93 || c === 125 || c === 34 || c === 39 || c === 33 || c === 38 || c === 42) count++;
  }
  return count;
}

/** The issue for a YAML text with too many nodes to parse, or undefined. */
export function yamlTooDense(text: string, what: string): string | undefined {
  if (yamlStructureCount(text) <= MAX_YAML_STRUCTURE) return undefined;
  return `${what} has more than ${MAX_YAML_STRUCTURE} YAML separators (, : - [ ] { } ? " ' ! & * and line breaks): parsing YAML takes a kilobyte or two of memory for each; write it as JSON (a .json file)`;
}
