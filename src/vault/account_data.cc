#include "vault/account_data.h"

#include <sodium.h>

#include <boost/json.hpp>

namespace medvault::vault {

namespace bj = boost::json;

bj::object data_object(std::string_view data) {
  boost::system::error_code ec;
  auto v = bj::parse(data, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.as_object());
}

AccountInfo info_of(const store::AccountRow& row) {
  AccountInfo a;
  a.username = row.username;
  a.role = row.role;
  a.created_ms = row.created_ms;
  const auto o = data_object(row.data);
  if (auto* d = o.if_contains("disabled"); d && d->is_bool()) a.disabled = d->as_bool();
  if (auto* x = o.if_contains("expires"); x && x->is_int64()) a.expires_ms = x->as_int64();
  a.has_password = o.contains("password");
  a.has_totp = o.contains("totp");
  auto count = [&](const char* k) {
    const auto* v = o.if_contains(k);
    return v && v->is_array() ? static_cast<int>(v->as_array().size()) : 0;
  };
  a.passkeys = count("passkeys");
  a.certificates = count("certs");
  if (auto* s = o.if_contains("scopes"); s && s->is_array())
    for (const auto& x : s->as_array())
      if (x.is_string()) a.scopes.emplace_back(x.as_string());
  auto text = [&](const char* k, std::string& out) {
    if (auto* v = o.if_contains(k); v && v->is_string()) out = std::string(v->as_string());
  };
  text("practitioner", a.access.practitioner);
  text("organization", a.access.organization);
  text("patient", a.access.patient);
  if (auto* g = o.if_contains("grants"); g && g->is_array())
    for (const auto& x : g->as_array())
      if (x.is_string()) a.access.grants.emplace_back(x.as_string());
  return a;
}

access::Subject subject_of(const AccountInfo& a) {
  access::Subject s{a.username, a.role, a.scopes, "", "", a.access.patient, a.access.grants};
  if (!a.access.practitioner.empty()) s.practitioner = "Practitioner/" + a.access.practitioner;
  if (!a.access.organization.empty()) s.organization = "Organization/" + a.access.organization;
  return s;
}

std::string merge_profile(const AccountInfo& a, std::string_view existing) {
  bj::object o = data_object(existing);
  o["disabled"] = a.disabled;
  if (a.expires_ms > 0) o["expires"] = a.expires_ms;
  else o.erase("expires");
  bj::array scopes;
  for (const auto& s : a.scopes) scopes.emplace_back(s);
  o["scopes"] = std::move(scopes);
  auto text = [&](const char* k, const std::string& v) {
    if (v.empty()) o.erase(k);
    else o[k] = v;
  };
  text("practitioner", a.access.practitioner);
  text("organization", a.access.organization);
  text("patient", a.access.patient);
  if (a.access.grants.empty()) {
    o.erase("grants");
  } else {
    bj::array grants;
    for (const auto& g : a.access.grants) grants.emplace_back(g);
    o["grants"] = std::move(grants);
  }
  return bj::serialize(o);
}

bool mfa_required(std::string_view role) { return role != "patient" && role != "service"; }

std::string b64(std::string_view raw) {
  std::string out(sodium_base64_ENCODED_LEN(raw.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();
  return out;
}

std::optional<std::string> unb64(std::string_view text) {
  std::string out(text.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(),
                        nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return std::nullopt;
  out.resize(len);
  return out;
}

std::string hex(std::string_view raw) {
  std::string out(raw.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  out.pop_back();
  return out;
}

}  // namespace medvault::vault
