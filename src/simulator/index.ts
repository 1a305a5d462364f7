// The simulated virtualized platform, as tests, the demo, benchmarks and the
// audit use it. (The soft TPM and its encoders are imported from their own
// modules: ./soft-tpm.js, ./marshal.js, ./ima.js, ./vplatform-recorder.js.)

export { startSimulator, writeTrustAnchors } from './start.js';
export type { StartSimulatorOptions, RunningSimulator, SimLayerInfo } from './start.js';
export { buildPlatform, SimPlatform, DEFAULT_SEED, SIM_CLOCK_EPOCH_MS } from './platform.js';
export type { PlatformOptions, PlacedFault, TrustAnchorFile, InventoryEntry, ExpectedFault, ExpectedOutcome } from './platform.js';
export { SimLayer } from './layer.js';
export type { LayerKind } from './layer.js';
export { FAULTS, FAULT_NAMES, FAULT_MODES, checkLayerFault, expectedCode, parseTamper } from './faults.js';
export type { FaultName, FaultInfo, LayerFault, TamperSpec, UnreachableMode, SlowMode, HugeMode } from './faults.js';
export { generateFaultPlan, parseFaultPlan, parseFleetFile, faultPlanText, planFaults, inventoryYaml, PLAN_KINDS } from './fleet.js';
export type { FaultPlan, FaultPlanEntry, FaultPlanOptions } from './fleet.js';
export { normalizeTopology, walkTopology, LAYER_NAME_RE, MAX_DEPTH, MAX_LAYERS } from './topology.js';
export type { Topology, TopologyNode, HostSpec, VmmSpec, VmSpec } from './topology.js';
export { FIRMWARE_PROFILES, VM_IMA_FILES, firmwareLog, imageDigest, simFileContent, simSecureBootKeys } from './firmware.js';
export type { FirmwareProfile, FirmwareLog, MachineRole, BootApplication } from './firmware.js';
export { SimulatorService, reserveDeadPort, LAYER_PATH_PREFIX } from './service.js';
export type { ServiceStats, ListenOptions } from './service.js';
export { SIMULATOR_CODES } from './codes.js';
