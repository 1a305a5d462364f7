// Object identifiers vtpm-verify interprets, with the names it prints.

export const OID = {
  // RFC 5280 certificate extensions
  subjectDirectoryAttributes: '2.5.29.9',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  cRLNumber: '2.5.29.20',
  reasonCode: '2.5.29.21',
  invalidityDate: '2.5.29.24',
  deltaCRLIndicator: '2.5.29.27',
  issuingDistributionPoint: '2.5.29.28',
  certificateIssuer: '2.5.29.29',
  nameConstraints: '2.5.29.30',
  cRLDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  anyExtendedKeyUsage: '2.5.29.37.0',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',

  // TCG (TCG EK Credential Profile 2.x, section 3)
  tpmManufacturer: '2.23.133.2.1',
  tpmModel: '2.23.133.2.2',
  tpmVersion: '2.23.133.2.3',
  tpmSpecification: '2.23.133.2.16',
  tcgKpEkCertificate: '2.23.133.8.1',
  tcgKpPlatformCertificate: '2.23.133.8.2',
  tcgKpAikCertificate: '2.23.133.8.3',

  /** protocol.md section 4: id-vtpmLayer, UUID f7120ab1-8189-4229-b5bd-7d7f82e404ed */
  trustedLayer: '2.25.328412993189898150595886742112143934701',

  // keys and signatures
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsassaPss: '1.2.840.113549.1.1.10',
  mgf1: '1.2.840.113549.1.1.8',
  ecPublicKey: '1.2.840.10045.2.1',
  ed25519: '1.3.101.112',
  ed448: '1.3.101.113',
} as const;

/** Extended key usages as the --require-eku option names them. */
export const EKU_BY_ROLE = {
  ek: OID.tcgKpEkCertificate,
  ak: OID.tcgKpAikCertificate,
} as const;

/** Short names of the attribute types in X.501 names; others print as dotted OIDs. */
export const ATTRIBUTE_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'street',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.42': 'GN',
  '2.5.4.97': 'organizationIdentifier',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
  [OID.tpmManufacturer]: 'tpmManufacturer',
  [OID.tpmModel]: 'tpmModel',
  [OID.tpmVersion]: 'tpmVersion',
};

export const EXTENSION_NAMES: Record<string, string> = {
  [OID.subjectDirectoryAttributes]: 'subjectDirectoryAttributes',
  [OID.subjectKeyIdentifier]: 'subjectKeyIdentifier',
  [OID.keyUsage]: 'keyUsage',
  [OID.subjectAltName]: 'subjectAltName',
  [OID.basicConstraints]: 'basicConstraints',
  [OID.nameConstraints]: 'nameConstraints',
  [OID.cRLDistributionPoints]: 'cRLDistributionPoints',
  [OID.certificatePolicies]: 'certificatePolicies',
  [OID.authorityKeyIdentifier]: 'authorityKeyIdentifier',
  [OID.extKeyUsage]: 'extKeyUsage',
  [OID.authorityInfoAccess]: 'authorityInfoAccess',
  [OID.trustedLayer]: 'trustedLayer',
  '2.5.29.36': 'policyConstraints',
  '2.5.29.33': 'policyMappings',
  '2.5.29.54': 'inhibitAnyPolicy',
  '2.16.840.1.113730.1.1': 'netscapeCertType',
};

export function extensionName(oid: string): string {
  return EXTENSION_NAMES[oid] ?? oid;
}
