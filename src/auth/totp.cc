#include "auth/totp.h"

#include <liboath/oath.h>
#include <qrencode.h>
#include <sodium.h>

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <cctype>
#include <cstdlib>
#include <memory>

namespace medvault::auth {
namespace {

void ensure_libs() {
  static const bool ok = sodium_init() >= 0 && oath_init() == OATH_OK;
  (void)ok;
}

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};

bool valid_params(const TotpParams& p) {
  return p.digits >= 6 && p.digits <= 8 && p.period >= 1 && p.period <= 3600;
}

int oath_flags(TotpAlgorithm a) {
  switch (a) {
    case TotpAlgorithm::sha256: return OATH_TOTP_HMAC_SHA256;
    case TotpAlgorithm::sha512: return OATH_TOTP_HMAC_SHA512;
    case TotpAlgorithm::sha1: break;
  }
  return 0;
}

std::string_view algorithm_name(TotpAlgorithm a) {
  switch (a) {
    case TotpAlgorithm::sha256: return "SHA256";
    case TotpAlgorithm::sha512: return "SHA512";
    case TotpAlgorithm::sha1: break;
  }
  return "SHA1";
}

std::string pct(std::string_view s) { return boost::urls::encode(s, boost::urls::unreserved_chars); }

}  // namespace

std::string totp_new_secret() {
  ensure_libs();
  std::string s(kTotpSecretBytes, '\0');
  randombytes_buf(s.data(), s.size());
  return s;
}

std::string base32_encode(std::string_view bytes) {
  ensure_libs();
  char* out = nullptr;
  size_t len = 0;
  if (oath_base32_encode(bytes.data(), bytes.size(), &out, &len) != OATH_OK) return {};
  std::unique_ptr<char, FreeDeleter> owned(out);
  std::string s(out, len);
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

Result<std::string> base32_decode(std::string_view text) {
  ensure_libs();
  if (text.size() > 1024) return make_error(Errc::invalid, "base32 text too long");
  std::string upper(text);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  char* out = nullptr;
  size_t len = 0;
  if (oath_base32_decode(upper.data(), upper.size(), &out, &len) != OATH_OK)
    return make_error(Errc::invalid, "invalid base32");
  std::unique_ptr<char, FreeDeleter> owned(out);
  std::string s(out, len);
  sodium_memzero(out, len);
  return s;
}

std::string totp_uri(std::string_view secret, std::string_view practice, std::string_view username,
                     const TotpParams& params, std::string_view issuer) {
  std::string uri = "otpauth://totp/" + pct(practice) + ":" + pct(username);
  uri += "?secret=" + base32_encode(secret);
  uri += "&issuer=" + pct(issuer);
  uri += "&algorithm=" + std::string(algorithm_name(params.algorithm));
  uri += "&digits=" + std::to_string(params.digits);
  uri += "&period=" + std::to_string(params.period);
  return uri;
}

Result<std::string> qr_svg(std::string_view text) {
  const std::string s(text);
  if (s.find('\0') != std::string::npos) return make_error(Errc::invalid, "QR text holds a NUL byte");
  std::unique_ptr<QRcode, void (*)(QRcode*)> qr(
      QRcode_encodeString8bit(s.c_str(), 0, QR_ECLEVEL_M), QRcode_free);
  if (!qr) return make_error(Errc::too_large, "text does not fit in a QR code");
  const int w = qr->width;
  const int quiet = 4;
  const int size = w + 2 * quiet;
  std::string path;
  for (int y = 0; y < w; ++y)
    for (int x = 0; x < w; ++x)
      if (qr->data[y * w + x] & 1)
        path += "M" + std::to_string(x + quiet) + "," + std::to_string(y + quiet) + "h1v1h-1z";
  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + std::to_string(size) + " " +
         std::to_string(size) + "\" shape-rendering=\"crispEdges\">";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>";
  svg += "<path fill=\"#000\" d=\"" + path + "\"/></svg>\n";
  return svg;
}

int64_t totp_step(int64_t unix_seconds, const TotpParams& params) {
  const int64_t p = params.period > 0 ? params.period : 30;
  return unix_seconds >= 0 ? unix_seconds / p : -((-unix_seconds + p - 1) / p);
}

Result<std::string> totp_code_at_step(std::string_view secret, int64_t step, const TotpParams& params) {
  ensure_libs();
  if (secret.empty()) return make_error(Errc::invalid, "empty TOTP secret");
  if (!valid_params(params)) return make_error(Errc::invalid, "bad TOTP parameters");
  if (step < 0 || step > (int64_t{1} << 40)) return make_error(Errc::invalid, "TOTP step out of range");
  char out[16] = {};
  // liboath counts steps from `now` itself: step * period is that step's start.
  const int rc = oath_totp_generate2(secret.data(), secret.size(), static_cast<time_t>(step * params.period),
                                     static_cast<unsigned>(params.period), 0,
                                     static_cast<unsigned>(params.digits), oath_flags(params.algorithm), out);
  if (rc != OATH_OK) return make_error(Errc::internal, "TOTP generation failed");
  std::string code(out);
  sodium_memzero(out, sizeof out);
  return code;
}

Result<std::string> totp_code(std::string_view secret, int64_t unix_seconds, const TotpParams& params) {
  return totp_code_at_step(secret, totp_step(unix_seconds, params), params);
}

Result<int64_t> totp_verify(std::string_view secret, std::string_view code, int64_t unix_seconds,
                            int64_t last_used_step, const TotpParams& params) {
  if (!valid_params(params)) return make_error(Errc::invalid, "bad TOTP parameters");
  if (code.size() != static_cast<size_t>(params.digits))
    return make_error(Errc::invalid, "the code must have " + std::to_string(params.digits) + " digits");
  for (char c : code)
    if (c < '0' || c > '9')
      return make_error(Errc::invalid, "the code must have " + std::to_string(params.digits) + " digits");

  // Every candidate step is computed and compared (constant time per
  // comparison), so timing does not tell which step matched.
  const int64_t now = totp_step(unix_seconds, params);
  int64_t matched = -1;
  bool replay = false;
  for (int64_t step = now - 1; step <= now + 1; ++step) {
    if (step < 0) continue;
    MV_ASSIGN(std::string expected, totp_code_at_step(secret, step, params));
    const bool eq = sodium_memcmp(expected.data(), code.data(), code.size()) == 0;
    sodium_memzero(expected.data(), expected.size());
    if (!eq) continue;
    if (step <= last_used_step) replay = true;
    else if (matched < 0) matched = step;
  }
  if (matched >= 0) return matched;
  if (replay) return make_error(Errc::unauthenticated, "code already used");
  return make_error(Errc::unauthenticated, "wrong or expired code");
}

}  // namespace medvault::auth
