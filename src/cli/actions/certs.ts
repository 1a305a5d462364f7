// vtpm-verify certs: reads certificate files, the trust store and CRLs (the
// edge), validates each target with the pure src/x509 core, and renders the
// path, TCG attributes, TrustedLayer extension and verdict.

import { EXIT_CODES, UsageError, VtpmError, type ExitCode } from '../../errors.js';
import { ALL_CODES } from '../../error-codes.js';
import { readInputFile } from '../../util/files.js';
import { terminalSafe } from '../../util/terminal-safe.js';
import { ValidationCache } from '../../x509/cache.js';
import { displayName, type Certificate } from '../../x509/certificate.js';
import { summarizeValidation, summarizeLayer } from '../../x509/describe.js';
import { EKU_BY_ROLE } from '../../x509/oids.js';
import { splitDerOrPem } from '../../x509/pem.js';
import { describeKey } from '../../x509/public-key.js';
import type { TcgAttributes } from '../../x509/tcg.js';
import { checkLabel } from '../../x509/trust-store.js';
import type { TrustedLayerClaim } from '../../x509/trusted-layer.js';
import { validatePath, type PathValidation } from '../../x509/validate.js';
import type { CommandOutcome, Style } from '../output.js';
import { loadCrls, loadTrustStore } from '../trust-files.js';
import { parseTimeArgument } from '../time-argument.js';

export interface CertsOptions {
  trust: string[];
  intermediates: string[];
  crls: string[];
  at?: string | undefined;
  requireEku?: string | undefined;
  allowLabels?: string[] | undefined;
  verbose: boolean;
}

const CERT_FILE_CAP = 16 * 1024 * 1024;

function checkEku(value: string): string {
  if (value in EKU_BY_ROLE || /^[0-2](\.\d+)+$/.test(value)) return value;
  throw new UsageError('USAGE', `--require-eku: ${JSON.stringify(value)} is neither ek, ak nor an OID`, { value });
}

interface FileResult {
  file: string;
  result: PathValidation;
}

export async function runCerts(files: string[], options: CertsOptions): Promise<CommandOutcome> {
  if (options.trust.length === 0) throw new UsageError('USAGE', 'certs needs at least one --trust file or folder', {});
  const at = options.at !== undefined ? parseTimeArgument(options.at, '--at') : Date.now();
  const requireEku = options.requireEku !== undefined ? checkEku(options.requireEku) : undefined;
  const allowedLabels = options.allowLabels?.map(checkLabel);

  const cache = new ValidationCache();
  const trust = loadTrustStore(options.trust, { intermediates: options.intermediates, cache });
  const crls = loadCrls(options.crls);
  // a label no anchor carries is a typo or a missing --trust, not a verdict on the certificates (it failed every path, exit 1)
  const known = new Set(trust.store.labels());
  const unknown = allowedLabels?.filter((label) => !known.has(label)) ?? [];
  if (unknown.length > 0) {
    throw new UsageError('USAGE', `--allow-label ${unknown.join(', ')}: no trust anchor has this label (labels: ${[...known].join(', ') || 'none'})`, { unknown, labels: [...known] });
  }

  // Parse every file first: malformed input is exit 2 before any verdict.
  const targets = files.map((file) => {
    const bytes = readInputFile(file, 'certificate file', CERT_FILE_CAP);
    const certs: Certificate[] = splitDerOrPem(bytes, file).ders.map((der) => {
      try {
        return cache.parseCertificate(der);
      } catch (err) {
        if (err instanceof VtpmError) throw new VtpmError(err.kind, err.code, `${file}: ${err.message}`, { ...err.details, file }, { cause: err });
        throw err;
      }
    });
    return { file, certs };
  });

  const results: FileResult[] = targets.map(({ file, certs }) => ({
    file,
    result: validatePath(certs[0]!, certs.slice(1), trust.store, {
      at,
      cache,
      ...(requireEku ? { requireEku } : {}),
      ...(allowedLabels ? { allowedLabels } : {}),
      ...(crls.length ? { crls } : {}),
    }),
  }));

  const firstInvalid = results.find((r) => !r.result.valid);
  const summary = {
    valid: firstInvalid === undefined,
    at: new Date(at).toISOString(),
    results: results.map((r) => ({ file: r.file, ...summarizeValidation(r.result) })),
    trust: {
      anchors: trust.store.anchors.length,
      labels: trust.store.labels(),
      intermediates: trust.store.intermediates.length,
      problems: trust.problems,
      ignored: trust.ignored,
    },
  };

  let error: VtpmError | undefined;
  let exitCode: ExitCode = EXIT_CODES.OK;
  if (firstInvalid && !firstInvalid.result.valid) {
    const r = firstInvalid.result;
    const kind = ALL_CODES[r.code]?.kind ?? 'verification';
    error = new VtpmError(kind, r.code, `${firstInvalid.file}: ${r.message}`, { file: firstInvalid.file, certificate: r.certificate });
    exitCode = kind === 'input' ? EXIT_CODES.BAD_INPUT : EXIT_CODES.NOT_TRUSTED;
  }
  return {
    ok: error === undefined,
    exitCode,
    result: summary,
    error,
    human: (style) => renderHuman(results, trust.problems, trust.ignored.length, options.verbose, style),
  };
}

function tcgLine(tcg: TcgAttributes): string {
  const parts: string[] = [];
  if (tcg.manufacturer !== undefined) {
    const who = tcg.manufacturerName ?? tcg.manufacturerId;
    parts.push(`manufacturer ${who ? `${who} (${tcg.manufacturer})` : tcg.manufacturer}`);
  }
  if (tcg.model !== undefined) parts.push(`model ${tcg.model}`);
  if (tcg.version !== undefined) parts.push(`version ${tcg.firmwareVersion ? `${tcg.firmwareVersion} (${tcg.version})` : tcg.version}`);
  if (tcg.specification) parts.push(`TPM ${tcg.specification.family} level ${tcg.specification.level} revision ${tcg.specification.revision}`);
  // attribute strings come from the certificate: escaped for the terminal
  return terminalSafe(`${parts.join(', ')} [from ${tcg.source}]`);
}

function layerLine(layer: TrustedLayerClaim | null): string {
  if (!layer) return 'none (says nothing about virtualization)';
  const s = summarizeLayer(layer)!;
  return Object.entries(s)
    .map(([k, v]) => terminalSafe(`${k} ${Array.isArray(v) ? v.join(',') : String(v)}`))
    .join(', ');
}

function certLines(cert: Certificate, index: number, role: string, style: Style): string[] {
  const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
  return [
    `  [${index}] ${role.padEnd(12)} ${style.bold(terminalSafe(displayName(cert)))}`,
    `      issuer ${terminalSafe(cert.issuer.text) || '(empty)'}`,
    `      ${describeKey(cert.publicKey)}, ${cert.signatureAlgorithm.name}, ${day(cert.notBefore)} .. ${day(cert.notAfter)}, serial ${cert.serial}, sha256 ${cert.fingerprint.slice(0, 16)}...`,
  ];
}

// Messages quote certificates (names, times), CRLs and file names: escaped like every other text
// from input. (Names are escaped when parsed, but not the bidi marks and separators terminalSafe also takes.)
function renderHuman(results: FileResult[], problems: { origin: string; code: string; message: string }[], ignored: number, verbose: boolean, style: Style): string {
  const out: string[] = [];
  for (const { file: rawFile, result } of results) {
    const file = terminalSafe(rawFile);
    const at = new Date(result.at).toISOString();
    if (result.valid) out.push(`${file}: ${style.ok('VALID')} at ${at}`);
    else out.push(`${file}: ${style.bad('INVALID')} ${style.code(result.code)}: ${terminalSafe(result.message)}`);
    result.path.forEach((cert, i) => out.push(...certLines(cert, i, i === 0 ? 'leaf' : 'intermediate', style)));
    if (result.anchor) {
      const a = result.anchor;
      out.push(`  [${result.path.length}] ${'anchor'.padEnd(12)} ${style.bold(terminalSafe(displayName(a.certificate)))} [${a.labels.join(', ')}]`);
      out.push(`      from ${terminalSafe(a.origins.join(', '))}`);
    } else if (!result.valid) {
      out.push(`  (no trust anchor reached)`);
    }
    if (result.target.tcg) out.push(`  TPM: ${tcgLine(result.target.tcg)}`);
    if (result.valid) out.push(`  TrustedLayer: ${layerLine(result.layer)}`);
    else if (result.unverifiedLayer) out.push(`  TrustedLayer: ${style.warn('(UNVERIFIED, not followed)')} ${layerLine(result.unverifiedLayer)}`);
    for (const c of result.checks) {
      if (c.status === 'warn') out.push(`  ${style.warn('warning')} ${style.code(c.code ?? '')}: ${terminalSafe(c.message)}`);
      else if (c.status === 'fail' && c.id !== 'chain.path') out.push(`  ${style.bad('fail')} ${style.code(c.code ?? '')}: ${terminalSafe(c.message)}`);
      else if (verbose) out.push(`  ${style.dim(`${c.status} ${c.id}`)}: ${terminalSafe(c.message)}`);
    }
  }
  for (const p of problems) out.push(`${style.warn('trust store')}: ${style.code(p.code)}: ${terminalSafe(p.message)}`);
  if (verbose && ignored > 0) out.push(style.dim(`trust store: ${ignored} file(s) ignored (not certificate files); see --json`));
  return out.join('\n');
}
