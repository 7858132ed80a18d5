// Fuzzes WebAuthn relying-party verification (src/auth/webauthn.h): the
// attestationObject CBOR, authenticatorData, COSE keys and clientDataJSON of
// a registration, then an assertion checked against the credential it
// produced (or against a fixed ES256 credential when registration fails).
// Input: five fields, each a 2-byte big-endian length then its bytes
// (clientDataJSON create, attestationObject, clientDataJSON get,
// authenticatorData, signature); fuzz/corpus/webauthn holds valid ceremonies
// made by src/auth/webauthn_test_util.h. Rejections must be error values.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "auth/webauthn.h"
#include "auth/webauthn_test_util.h"

using namespace medvault;
using namespace medvault::auth::webauthn;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// A P-256 SubjectPublicKeyInfo, for assertions when registration failed.
const Credential& fixed_credential() {
  static const Credential c = [] {
    Credential c;
    c.id = "fixed";
    c.alg = Alg::es256;
    c.public_key_der = std::string(
        "\x30\x59\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07\x03\x42\x00"
        "\x04\x6b\x17\xd1\xf2\xe1\x2c\x42\x47\xf8\xbc\xe6\xe5\x63\xa4\x40\xf2\x77\x03\x7d\x81\x2d\xeb\x33\xa0"
        "\xf4\xa1\x39\x45\xd8\x98\xc2\x96\x4f\xe3\x42\xe2\xfe\x1a\x7f\x9b\x8e\xe7\xeb\x4a\x7c\x0f\x9e\x16\x2b"
        "\xce\x33\x57\x6b\x31\x5e\xce\xcb\xb6\x40\x68\x37\xbf\x51\xf5",
        91);  // the curve's generator point as public key
    return c;
  }();
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto f = testing::split_fuzz_input(std::string_view(reinterpret_cast<const char*>(data), size));
  const RelyingParty& rp = testing::test_rp();
  const std::string challenge = testing::fixed_challenge();

  auto cred = verify_registration(rp, challenge, f[0], f[1]);
  if (cred.ok()) {
    check(!cred->id.empty() && cred->id.size() <= kMaxCredentialIdBytes);
    check(!cred->public_key_der.empty());
    check(cred->aaguid.size() == 16);
    check(cred->attestation_format == "none" || cred->attestation_format == "packed");
  } else {
    check(cred.error().code == Errc::invalid || cred.error().code == Errc::unauthenticated);
  }
  const Credential& stored = cred.ok() ? *cred : fixed_credential();
  auto r = verify_assertion(rp, challenge, stored, f[2], f[3], f[4]);
  if (r.ok()) {
    check(r->sign_count > stored.sign_count || (r->sign_count == 0 && stored.sign_count == 0));
  } else {
    check(r.error().code == Errc::invalid || r.error().code == Errc::unauthenticated);
  }
  return 0;
}
