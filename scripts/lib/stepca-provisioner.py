"""A JWK provisioner as `step ca init` writes one: a P-256 key, its public JWK (kid = the RFC 7638
thumbprint, alg ES256) and the private JWK encrypted with the provisioner password
(PBES2-HS256+A128KW, A256GCM, cty jwk+json, 100000 iterations: go.step.sm/crypto/jose's defaults).

usage: stepca-provisioner.py PASSWORD_FILE  ->  prints {"key": <public JWK>, "encryptedKey": <JWE>}
An independent implementation (joserfc) of what phoenix decrypts."""
import json
import sys

from joserfc import jwe
from joserfc.jwk import ECKey, OctKey

password = open(sys.argv[1], "rb").read().rstrip(b"\n")
key = ECKey.generate_key("P-256", private=True)
kid = key.thumbprint()
private = key.as_dict(private=True)
private.update({"kid": kid, "alg": "ES256", "use": "sig"})
public = key.as_dict(private=False)
public.update({"kid": kid, "alg": "ES256", "use": "sig"})
header = {"alg": "PBES2-HS256+A128KW", "enc": "A256GCM", "cty": "jwk+json", "p2c": 100000}
registry = jwe.JWERegistry(algorithms=["PBES2-HS256+A128KW", "A256GCM"])
token = jwe.encrypt_compact(header, json.dumps(private).encode(), OctKey.import_key(password), registry=registry)
print(json.dumps({"key": public, "encryptedKey": token}))
