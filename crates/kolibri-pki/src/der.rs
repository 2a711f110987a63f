//! Minimal DER surgery for what rcgen cannot express: a subject with several
//! organization (O) attributes. Kubernetes reads a client certificate's groups from its O
//! attributes, but rcgen's `DistinguishedName` keeps one value per attribute type
//! (rcgen#81). So the certificate is built by rcgen, then its subject is replaced and the
//! `tbsCertificate` signed again with the same CA key and algorithm.

use rcgen::{KeyPair, SigningKey};

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const BIT_STRING: u8 = 0x03;
const UTF8_STRING: u8 = 0x0c;
/// Context tag [0], the explicit `version` field that opens every v3 `tbsCertificate`.
const VERSION_TAG: u8 = 0xa0;
/// DER of the OIDs 2.5.4.3 (commonName) and 2.5.4.10 (organizationName).
const OID_CN: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];
const OID_O: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x0a];
/// Position of `subject` in `tbsCertificate`: version, serialNumber, signature, issuer,
/// validity, subject.
const SUBJECT_INDEX: usize = 5;

/// Why a certificate could not be rewritten; only possible if rcgen's output changed shape.
#[derive(Debug)]
pub(crate) struct MalformedDer;

/// DER of the Name `O=<org>, ..., CN=<cn>`, one attribute per RDN, organizations first
/// (the order Go's `pkix.Name` produces).
pub(crate) fn name(cn: &str, organizations: &[String]) -> Vec<u8> {
    let mut rdns = Vec::new();
    for (oid, value) in organizations.iter().map(|o| (OID_O, o.as_str())).chain(std::iter::once((OID_CN, cn))) {
        let value = tlv(UTF8_STRING, value.as_bytes());
        let attribute = tlv(SEQUENCE, &[oid, value.as_slice()].concat());
        rdns.extend(tlv(SET, &attribute));
    }
    tlv(SEQUENCE, &rdns)
}

/// Returns `cert` with its subject replaced by `subject` (a DER Name), re-signed by `key`,
/// which must be the key that signed `cert` (its algorithm identifier is kept).
pub(crate) fn with_subject(cert: &[u8], subject: &[u8], key: &KeyPair) -> Result<Vec<u8>, rcgen::Error> {
    let malformed = |_: MalformedDer| rcgen::Error::CouldNotParseCertificate;
    let outer = children(content(cert, SEQUENCE).map_err(malformed)?).map_err(malformed)?;
    let [tbs, signature_algorithm, _signature] = outer.as_slice() else {
        return Err(rcgen::Error::CouldNotParseCertificate);
    };
    let mut fields = children(content(tbs, SEQUENCE).map_err(malformed)?).map_err(malformed)?;
    if fields.first().and_then(|f| f.first()) != Some(&VERSION_TAG)
        || fields.get(SUBJECT_INDEX).and_then(|f| f.first()) != Some(&SEQUENCE)
    {
        return Err(rcgen::Error::CouldNotParseCertificate);
    }
    fields[SUBJECT_INDEX] = subject;
    let tbs = tlv(SEQUENCE, &fields.concat());
    let signature = key.sign(&tbs)?;
    // A BIT STRING starts with its count of unused bits: none, signatures are whole bytes.
    let signature = tlv(BIT_STRING, &[&[0u8][..], &signature].concat());
    Ok(tlv(SEQUENCE, &[tbs.as_slice(), signature_algorithm, signature.as_slice()].concat()))
}

/// Encodes one tag-length-value.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// Splits one TLV off the front of `input`: `(whole TLV, header length, rest)`.
fn split_tlv(input: &[u8]) -> Result<(&[u8], usize, &[u8]), MalformedDer> {
    let first_len = *input.get(1).ok_or(MalformedDer)?;
    let (header, len) = if first_len < 0x80 {
        (2, usize::from(first_len))
    } else {
        let n = usize::from(first_len & 0x7f);
        if n == 0 || n > std::mem::size_of::<usize>() {
            return Err(MalformedDer);
        }
        let bytes = input.get(2..2 + n).ok_or(MalformedDer)?;
        let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (2 + n, len)
    };
    let end = header.checked_add(len).ok_or(MalformedDer)?;
    if end > input.len() {
        return Err(MalformedDer);
    }
    Ok((&input[..end], header, &input[end..]))
}

/// The content of a TLV with tag `tag` that spans all of `input`.
fn content(input: &[u8], tag: u8) -> Result<&[u8], MalformedDer> {
    let (whole, header, rest) = split_tlv(input)?;
    if input.first() != Some(&tag) || !rest.is_empty() {
        return Err(MalformedDer);
    }
    Ok(&whole[header..])
}

/// The TLVs that make up `input`, in order.
fn children(mut input: &[u8]) -> Result<Vec<&[u8]>, MalformedDer> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (whole, _, rest) = split_tlv(input)?;
        out.push(whole);
        input = rest;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;
    use x509_parser::x509::X509Name;

    #[test]
    fn long_lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let encoded = tlv(SEQUENCE, &vec![7u8; len]);
            assert_eq!(content(&encoded, SEQUENCE).unwrap().len(), len);
        }
    }

    #[test]
    fn truncated_input_is_rejected() {
        let encoded = tlv(SEQUENCE, &[1, 2, 3]);
        assert!(content(&encoded[..encoded.len() - 1], SEQUENCE).is_err());
        assert!(content(&encoded, SET).is_err());
    }

    #[test]
    fn name_is_parsed_back_with_every_organization() {
        let der = name("alice", &["a".into(), "b".into(), "c".into()]);
        let (rest, parsed) = X509Name::from_der(&der).unwrap();
        assert!(rest.is_empty());
        let orgs: Vec<_> = parsed.iter_organization().map(|o| o.as_str().unwrap().to_owned()).collect();
        assert_eq!(orgs, ["a", "b", "c"]);
        let cn = parsed.iter_common_name().next().unwrap().as_str().unwrap();
        assert_eq!(cn, "alice");
    }
}
