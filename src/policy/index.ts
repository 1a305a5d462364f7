// The public API of the policy module: what the walker (src/verify) and the
// CLI call. Everything here is pure; file reading is injected (LoadOptions.readFile).

export { loadPolicy, checkPolicy, formatIssue, MAX_ISSUES } from './load.js';
export type { LoadOptions, PolicyIssue, PolicyFileReader, PolicyCheckResult } from './load.js';
export { evaluatePolicy, failedRules, selects } from './evaluate.js';
export { generatePolicy } from './generate.js';
export type { GenerateOptions, GeneratedPolicy } from './generate.js';
export { baselinePolicy, BASELINE_POLICY_YAML } from './baseline.js';
export { explainPolicy } from './explain.js';
export type { PolicyExplanation, RuleSetExplanation } from './explain.js';
export { policyJsonSchema, policySchema, API_VERSION } from './schema.js';
export type { PolicySpec, LayerRuleSpec } from './schema.js';
export { policyReferenceMarkdown } from './reference.js';
export { toCheckResults } from './result.js';
export type { RuleResult, RuleStatus, LayerEvaluation, PolicyEvaluation, Verdict } from './result.js';
export type { Policy, CompiledRuleSet } from './compile.js';
export { parseFactsJson, factsToJson } from './evidence-json.js';
export type { FactsFile } from './evidence-json.js';
export { walkEndedAt } from './evidence.js';
export type {
  LayerFacts,
  LayerKind,
  EvaluationInput,
  CertificateFacts,
  TrustAnchorFacts,
  QuoteFacts,
  EventLogFacts,
  BootApplicationFacts,
  ImaFacts,
  ImaEntryFacts,
  BindingFacts,
  BindingStatus,
  Finding,
  MigrationFacts,
} from './evidence.js';
export { POLICY_LOAD_CODES, POLICY_RULE_CODES } from './codes.js';
export { pcrSelectionFor } from './pcr-selection.js';
export { unknownAnchorLabels } from './trust-labels.js';
