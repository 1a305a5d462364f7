// Every firmware event log of the corpus, in one test: our final PCR values
// of every bank against tpm2_eventlog 5.4's, except where tpm2_eventlog is
// wrong (it extends EV_NO_ACTION and ignores StartupLocality) or gives up;
// there against the spec replay and the PCRs read on the real machines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEventLog } from '../../src/eventlog/parse.js';
import { replayEventLog } from '../../src/eventlog/replay.js';
import { pcrValuesToJson } from '../../src/tpm/pcrs.js';
import { VtpmError } from '../../src/errors.js';
import { corpusPath } from '../helpers/paths.js';
import { diffPcrs, eventlogSummary, recordedPcrs, yamlPcrs, type PcrJson } from './corpus.js';

/** Files tpm2_eventlog cannot handle and that are not logs we can replay: the typed error we give instead, and why. */
const EXPECTED_ERRORS: Record<string, { code: string; why: string }> = {
  'keylime_binary_bios_measurements-empty.bin': { code: 'EVENTLOG_EMPTY', why: 'a 0-byte file' },
  'keylime_binary_bios_measurements-bogus.bin': { code: 'EVENTLOG_NOT_PC_CLIENT', why: '34 bytes of text (tpm2_eventlog segfaults)' },
  'ccel/goeventlog_CCEL.bin': { code: 'EVENTLOG_NOT_PC_CLIENT', why: 'the ACPI CCEL table that points at a log, not a log' },
  'ccel/goeventlog_cos-113-intel-tdx.table.bin': { code: 'EVENTLOG_NOT_PC_CLIENT', why: 'the ACPI CCEL table that points at a log, not a log' },
  'cel/gotpmtools_agent_cel.bin': { code: 'EVENTLOG_NOT_PC_CLIENT', why: 'a CEL-TLV log (tpm2_eventlog: "insufficient size for SpecID event data")' },
  'tpm2tools_specid-vendordata.bin': {
    code: 'EVENTLOG_SPEC_ID_INVALID',
    why: 'its Spec ID event declares vendorInfoSize 4 inside an eventSize of 37 that leaves no room for it; tpm2_eventlog reads past the event (the well-formed twin tss_specid-vendordata.bin parses)',
  },
};

/** Logs tpm2_eventlog refuses but we parse, with no spec replay in the summary: the expectation, spelled out. */
const EXPLICIT_PCRS: Record<string, { pcrs: PcrJson; why: string }> = {
  'goattest_short_no_action.bin': {
    pcrs: { sha1: { '0': '0000000000000000000000000000000000000003' } },
    why: 'SHA-1-format log whose only event is StartupLocality 3: PCR 0 starts (and stays) at 00..03 (tpm2_eventlog: "invalid eventDataSize in specid event")',
  },
};

test('every corpus event log replays to the reference PCRs of every bank, or fails with the typed error that says why', (t) => {
  const dir = corpusPath(t, 'eventlogs');
  if (!dir) return;
  const summary = eventlogSummary();
  const recorded = recordedPcrs();
  const files: string[] = [];
  for (const sub of ['', 'ccel', 'cel']) for (const f of readdirSync(join(dir, sub))) if (f.endsWith('.bin')) files.push(sub ? `${sub}/${f}` : f);
  assert.ok(files.length >= 60, `expected the whole corpus, found ${files.length} files`);

  const problems: string[] = [];
  const tally: Record<string, number> = {};
  for (const name of files.sort()) {
    const s = summary[`eventlogs/${name}`];
    const expectedError = EXPECTED_ERRORS[name];
    let got: PcrJson;
    try {
      const log = parseEventLog(readFileSync(join(dir, name)));
      got = pcrValuesToJson(replayEventLog(log));
      if (s?.trailing_bytes_after_last_event && name.startsWith('ccel/')) {
        if (log.padding?.byte !== 0xff || log.padding.length !== s.trailing_bytes_after_last_event) problems.push(`${name}: padding not recognised`);
      }
      if (name.startsWith('ccel/') && log.registers !== 'cc-mr') problems.push(`${name}: not recognised as a CC event log`);
      if (s?.events && log.events.length !== s.events) problems.push(`${name}: ${log.events.length} events, the summary counts ${s.events}`);
    } catch (err) {
      if (!(err instanceof VtpmError)) {
        problems.push(`${name}: raw ${(err as Error).name}: ${(err as Error).message}`);
        continue;
      }
      if (expectedError?.code === err.code) {
        t.diagnostic(`${name}: typed error ${err.code} (${expectedError.why}): ${err.message}`);
        tally['typed error'] = (tally['typed error'] ?? 0) + 1;
      } else problems.push(`${name}: unexpected ${err.code}: ${err.message}`);
      continue;
    }
    if (expectedError) {
      problems.push(`${name}: parsed, but ${expectedError.code} was expected`);
      continue;
    }

    const yaml = yamlPcrs(join(dir, '..', 'expected', `${name.replace(/\.bin$/, '')}.yaml`));
    const rec = recorded[name.replace(/^.*\//, '')];
    let reference: string;
    let diff: string[];
    if (Array.isArray(s?.tpm2_eventlog_pcr_diff) && s.tpm2_eventlog_pcr_diff.length > 0) {
      reference = 'spec replay (replay_pcrs_spec): tpm2_eventlog 5.4 extends EV_NO_ACTION / ignores StartupLocality here';
      diff = diffPcrs(got, s.replay_pcrs_spec!);
      if (yaml && diffPcrs(got, yaml).length === 0) problems.push(`${name}: equals tpm2_eventlog's known-wrong PCRs`);
    } else if (yaml) {
      reference = "tpm2_eventlog 5.4's pcrs";
      diff = diffPcrs(got, yaml);
    } else if (s?.replay_pcrs_spec && Object.keys(s.replay_pcrs_spec).length) {
      reference = 'spec replay (replay_pcrs_spec): tpm2_eventlog refused or crashed';
      diff = diffPcrs(got, s.replay_pcrs_spec);
    } else if (EXPLICIT_PCRS[name]) {
      reference = EXPLICIT_PCRS[name]!.why;
      diff = diffPcrs(got, EXPLICIT_PCRS[name]!.pcrs);
    } else {
      problems.push(`${name}: no reference known for this log`);
      continue;
    }
    if (rec) {
      // PCRs read on the real machine (go-tpm-tools); compare those the log extends.
      const d = diffPcrs(got, rec.banks, { onlyRefPcrsInGot: true });
      diff.push(...d.map((x) => `recorded ${x}`));
      reference += ' + PCRs recorded on the machine (go-tpm-tools)';
    }
    tally[reference] = (tally[reference] ?? 0) + 1;
    t.diagnostic(`${name}: ${diff.length ? 'DIFFERS' : 'equal'} to ${reference}`);
    if (diff.length) problems.push(`${name} vs ${reference}: ${diff.join('; ')}`);
  }
  for (const [ref, n] of Object.entries(tally)) t.diagnostic(`${n} log(s): ${ref}`);
  assert.deepEqual(problems, []);
});
