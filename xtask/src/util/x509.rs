//! The few certificate fields the sandbox reads back (its own PKI, notary's root keys, a
//! Notation certificate): RFC 5280's `Certificate` walked with yasna, the DER reader rcgen
//! already builds on, so that reading needs no second ASN.1 stack (x509-parser cost 12 CPU-s of
//! every clean build). DER only, as Go and rcgen write certificates; the tests hold it to
//! x509-parser.

use anyhow::{anyhow, bail, Result};
use time::OffsetDateTime;
use yasna::models::ObjectIdentifier;
use yasna::{BERReader, BERReaderSeq, Tag};

/// One certificate's fields; names and the key as raw DER, compared bytewise.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// The issuer's `Name` (the whole SEQUENCE).
    pub issuer: Vec<u8>,
    pub subject: Vec<u8>,
    /// The `SubjectPublicKeyInfo` (the whole SEQUENCE).
    pub spki: Vec<u8>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// The subject alternative name's DNS names.
    pub dns_names: Vec<String>,
}

/// A `SubjectPublicKeyInfo`: the key's algorithm, its parameters when they are an OID (the
/// curve of an EC key), and the key's bits.
#[derive(Debug, Clone)]
pub struct PublicKey {
    pub algorithm: ObjectIdentifier,
    pub parameter: Option<ObjectIdentifier>,
    pub key: Vec<u8>,
}

const OID_SAN: &[u64] = &[2, 5, 29, 17];
/// `dNSName [2] IA5String` in a `GeneralName`.
const DNS_NAME: Tag = Tag { tag_class: yasna::TagClass::ContextSpecific, tag_number: 2 };

/// The first `CERTIFICATE` block of PEM text, as DER.
pub fn pem_certificate(text: &[u8]) -> Result<Vec<u8>> {
    let pem = pem::parse(text).map_err(|e| anyhow!("not PEM ({e})"))?;
    if pem.tag() != "CERTIFICATE" {
        bail!("a PEM {} block, not a CERTIFICATE", pem.tag());
    }
    Ok(pem.into_contents())
}

/// One DER certificate, nothing after it.
pub fn parse(der: &[u8]) -> Result<Certificate> {
    yasna::parse_der(der, |r| r.read_sequence(|r| certificate(r))).map_err(|e| anyhow!("not a certificate ({e})"))
}

fn certificate(r: &mut BERReaderSeq<'_, '_>) -> yasna::ASN1Result<Certificate> {
    let cert = r.next().read_sequence(|r| {
        r.read_optional(|r| r.read_tagged(Tag::context(0), |r| r.read_u8()))?; // version
        r.next().read_der()?; // serialNumber
        r.next().read_der()?; // signature algorithm
        let issuer = r.next().read_der()?;
        let (not_before, not_after) = r.next().read_sequence(|r| Ok((time(r.next())?, time(r.next())?)))?;
        let subject = r.next().read_der()?;
        let spki = r.next().read_der()?;
        // issuerUniqueID, subjectUniqueID: BIT STRINGs (read as such: `read_der` takes any tag).
        r.read_optional(|r| r.read_tagged_implicit(Tag::context(1), |r| r.read_bitvec_bytes()))?;
        r.read_optional(|r| r.read_tagged_implicit(Tag::context(2), |r| r.read_bitvec_bytes()))?;
        let dns_names = r
            .read_optional(|r| r.read_tagged(Tag::context(3), |r| r.collect_sequence_of(extension)))?
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        Ok(Certificate { issuer, subject, spki, not_before, not_after, dns_names })
    })?;
    r.next().read_der()?; // signatureAlgorithm
    r.next().read_der()?; // signatureValue
    Ok(cert)
}

/// `Time ::= CHOICE { utcTime, generalTime }`.
fn time(r: BERReader<'_, '_>) -> yasna::ASN1Result<OffsetDateTime> {
    if r.lookahead_tag()? == yasna::tags::TAG_UTCTIME {
        Ok(*r.read_utctime()?.datetime())
    } else {
        Ok(*r.read_generalized_time()?.datetime())
    }
}

/// An extension's DNS names if it is the subject alternative name; empty otherwise.
fn extension(r: BERReader<'_, '_>) -> yasna::ASN1Result<Vec<String>> {
    r.read_sequence(|r| {
        let id = r.next().read_oid()?;
        r.read_optional(|r| r.read_bool())?; // critical
        let value = r.next().read_bytes()?;
        if id.components().as_slice() != OID_SAN {
            return Ok(Vec::new());
        }
        let names = yasna::parse_der(&value, |r| {
            r.collect_sequence_of(|r| match r.lookahead_tag()? == DNS_NAME {
                true => r.read_tagged_implicit(DNS_NAME, |r| r.read_ia5_string()).map(Some),
                false => r.read_der().map(|_| None),
            })
        })?;
        Ok(names.into_iter().flatten().collect())
    })
}

/// A DER `SubjectPublicKeyInfo`.
pub fn public_key(spki: &[u8]) -> Result<PublicKey> {
    yasna::parse_der(spki, |r| {
        r.read_sequence(|r| {
            let (algorithm, parameter) = r.next().read_sequence(|r| {
                let algorithm = r.next().read_oid()?;
                // The parameters: a curve's OID, NULL (RSA), or absent.
                let parameter = r.read_optional(|r| match r.lookahead_tag()? == yasna::tags::TAG_OID {
                    true => r.read_oid().map(Some),
                    false => r.read_der().map(|_| None),
                })?;
                Ok((algorithm, parameter.flatten()))
            })?;
            let (key, unused_bits) = r.next().read_bitvec_bytes()?;
            if unused_bits % 8 != 0 {
                return Err(yasna::ASN1Error::new(yasna::ASN1ErrorKind::Invalid));
            }
            Ok(PublicKey { algorithm, parameter, key })
        })
    })
    .map_err(|e| anyhow!("not a SubjectPublicKeyInfo ({e})"))
}

/// A `Name` as x509-parser and OpenSSL's one-line form print it: `C=ZZ, O=org, CN=name`
/// (attribute types they abbreviate by name, others by OID).
pub fn name_to_string(name: &[u8]) -> Result<String> {
    let rdns = yasna::parse_der(name, |r| {
        r.collect_sequence_of(|r| {
            let mut parts = Vec::new();
            r.read_set_of(|r| {
                parts.push(r.read_sequence(|r| {
                    let id = r.next().read_oid()?;
                    let value = r.next().read_tagged_der()?;
                    Ok(format!("{}={}", attribute_name(&id), String::from_utf8_lossy(value.value())))
                })?);
                Ok(())
            })?;
            Ok(parts.join(" + "))
        })
    })
    .map_err(|e| anyhow!("not a distinguished name ({e})"))?;
    Ok(rdns.join(", "))
}

fn attribute_name(id: &ObjectIdentifier) -> String {
    let short = match id.components().as_slice() {
        [2, 5, 4, 3] => "CN",
        [2, 5, 4, 5] => "serialNumber",
        [2, 5, 4, 6] => "C",
        [2, 5, 4, 7] => "L",
        [2, 5, 4, 8] => "ST",
        [2, 5, 4, 10] => "O",
        [2, 5, 4, 11] => "OU",
        [1, 2, 840, 113549, 1, 9, 1] => "Email",
        _ => return id.components().iter().map(u64::to_string).collect::<Vec<_>>().join("."),
    };
    short.to_string()
}

#[cfg(test)]
mod tests;
