// The JSON document of an account row (store::AccountRow.data): what the
// accounts service (profile, access links) and the sessions service
// (credentials, docs/formats/auth.md) keep there. Internal to vault/.
// Each service rewrites only its own fields and keeps the others.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "access/policy.h"
#include "store/store.h"
#include "vault/accounts.h"

namespace medvault::vault {

// The profile fields of an account row.
AccountInfo info_of(const store::AccountRow& row);
// The access-policy subject of an account (docs/access-policy.md).
access::Subject subject_of(const AccountInfo& a);
// The row's JSON object (empty if the data is not a JSON object).
boost::json::object data_object(std::string_view data);
// `existing` with the profile fields of `a` written over it.
std::string merge_profile(const AccountInfo& a, std::string_view existing);

// Roles whose accounts must have a second factor (MFA on by default for
// every staff account; patients and service accounts may choose).
bool mfa_required(std::string_view role);

// base64 (standard alphabet) of raw bytes, and back (nullopt if malformed).
std::string b64(std::string_view raw);
std::optional<std::string> unb64(std::string_view text);
// Lower-case hex.
std::string hex(std::string_view raw);

}  // namespace medvault::vault
