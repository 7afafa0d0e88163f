"""Test PKI made fresh for every run with python3-cryptography: a root CA, a server certificate
for 127.0.0.1, and client certificates in the shapes the gateway must accept or refuse (NCA-like
subjects: CN, OU=BIN<12>, SERIALNUMBER=IIN<12>). Nothing here is committed; keys live in the test's
temp dir."""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def _name(cn, ou=None, serial=None, org="Qaqpa test"):
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]
    if ou:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    if serial:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _key_usage(digital_signature=True, key_cert_sign=False):
    return x509.KeyUsage(digital_signature=digital_signature, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=key_cert_sign, crl_sign=key_cert_sign,
                         encipher_only=False, decipher_only=False)


class Issued:
    def __init__(self, directory, label, cert, key):
        self.cert = cert
        self.cert_path = os.path.join(directory, f"{label}.crt")
        self.key_path = os.path.join(directory, f"{label}.key")
        with open(self.cert_path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(self.key_path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        os.chmod(self.key_path, 0o600)

    @property
    def fingerprint(self):
        return self.cert.fingerprint(hashes.SHA256()).hex()


class CA:
    def __init__(self, directory, label, cn):
        self.dir = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = _name(cn)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(NOW - DAY).not_valid_after(NOW + 30 * DAY)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(_key_usage(digital_signature=False, key_cert_sign=True),
                               critical=True)
                .sign(self.key, hashes.SHA256()))
        self.name = name
        self.issued = Issued(directory, label, cert, self.key)

    @property
    def cert_path(self):
        return self.issued.cert_path

    def issue(self, label, subject, eku, not_before=None, not_after=None, san_ip=None,
              digital_signature=True):
        key = ec.generate_private_key(ec.SECP256R1())
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.name)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(not_before or NOW - DAY).not_valid_after(not_after or NOW + 7 * DAY)
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(_key_usage(digital_signature=digital_signature), critical=True)
             .add_extension(x509.ExtendedKeyUsage(eku), critical=False))
        if san_ip:
            b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(
                ipaddress.ip_address(san_ip))]), critical=False)
        return Issued(self.dir, label, b.sign(self.key, hashes.SHA256()), key)


class TestPki:
    """Everything one mTLS test deployment needs."""

    def __init__(self, directory):
        os.makedirs(directory, exist_ok=True)
        client = [ExtendedKeyUsageOID.CLIENT_AUTH]
        self.ca = CA(directory, "ca", "Qaqpa Test Root CA")
        self.rogue_ca = CA(directory, "rogue-ca", "Rogue CA")
        self.server = self.ca.issue("server", _name("127.0.0.1"),
                                    [ExtendedKeyUsageOID.SERVER_AUTH], san_ip="127.0.0.1")
        # bank-core: registered by fingerprint
        self.bank = self.ca.issue("bank", _name("bank-core", "BIN990340000014"), client)
        # tax-service: registered by NCA-profile subject (CN + OU=BIN)
        self.tax = self.ca.issue("tax", _name("tax-service", "BIN240140000021"), client)
        # national gateway: registered by subject CN only
        self.amgw = self.ca.issue("amgw", _name("AMGW national gateway", org="AM"), client)
        # shapes to refuse
        self.bank_expired = self.ca.issue("bank-expired", _name("bank-core", "BIN990340000014"),
                                          client, not_before=NOW - 10 * DAY,
                                          not_after=NOW - DAY)
        self.bank_rogue = self.rogue_ca.issue("bank-rogue", _name("bank-core", "BIN990340000014"),
                                              client)
        self.bank_server_only = self.ca.issue("bank-server-eku",
                                              _name("bank-core", "BIN990340000014"),
                                              [ExtendedKeyUsageOID.SERVER_AUTH])
        self.stranger = self.ca.issue("stranger", _name("stranger", "BIN240140000011"), client)
