// The sign-in, session and enrolment endpoints under /api/auth, and the
// administrator's /api/admin (docs/auth-api.md). JSON in and out; the
// vault's Sessions service does the work.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "http/message.h"
#include "http/router.h"
#include "vault/vault.h"

namespace medvault::http {

inline constexpr std::string_view kSessionCookie = "__Host-mv_session";

// The endpoints that need no subject: password, passkey and certificate
// sign-in. nullopt when `segments` is not one of them.
std::optional<Response> handle_sign_in(vault::Sessions& sessions, const Request& req,
                                       const std::vector<std::string>& segments);

// Everything else under /api/auth and /api/admin, for a signed-in subject.
// `session` is the cookie's session, or nullptr for a bearer token.
Response handle_account_api(vault::Vault& vault, const vault::RequestContext& ctx,
                            const vault::SessionInfo* session, const Request& req,
                            const std::vector<std::string>& segments);

// GET /api/audit (docs/admin-api.md): the privacy officer's audit viewer.
Response handle_audit_query(vault::Vault& vault, const vault::RequestContext& ctx, const Request& req,
                            const Params& query);

}  // namespace medvault::http
