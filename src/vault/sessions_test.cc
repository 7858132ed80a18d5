#include "vault/sessions.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include <boost/json.hpp>

#include "auth/totp.h"
#include "auth/webauthn_test_util.h"
#include "store/store.h"
#include "vault/vault.h"
#include "vault/vault_test_util.h"

namespace medvault::vault {
namespace {

namespace fs = std::filesystem;
namespace wt = auth::webauthn::testing;
using auth::webauthn::base64url_decode;

class ManualClock final : public Clock {
 public:
  int64_t now_ms() const override { return now.load(); }
  void advance(int64_t ms) { now += ms; }
  std::atomic<int64_t> now{1'800'000'000'000};
};

// Interactive Argon2id parameters for password hashes (auth/password.h).
const bool kFastKdf = ::setenv("MEDVAULT_TEST_FAST_KDF", "1", 1) == 0;

constexpr std::string_view kPassword = "plum-orchard-41-kayak";

class SessionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kFastKdf);
    char tmpl[] = "/tmp/mv-sessions-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    auto v = testing::make_test_vault(dir_, clock_);
    ASSERT_TRUE(v.ok()) << v.error().message;
    vault_ = std::move(v).value();
    admin_.subject = {"system", "system", {}};
    SessionSettings s;
    s.rp_id = "example.org";
    s.origin = "https://example.org";
    s.idle_ms = 60'000;
    s.max_ms = 3'600'000;
    sessions().configure(s);
    add("dr.a", "physician");
  }
  void TearDown() override {
    vault_.reset();
    fs::remove_all(dir_);
  }

  Sessions& sessions() { return *vault_->sessions(); }

  void add(const std::string& user, const std::string& role) {
    ASSERT_TRUE(vault_->accounts().add_user(admin_, user, role, {}).ok());
    ASSERT_TRUE(sessions().set_password(admin_, user, kPassword).ok());
  }

  Result<SessionInfo> login(const std::string& user, std::string_view password, std::string_view code,
                            const std::string& address = "10.0.0.1") {
    SignIn in{address, 0};
    auto r = sessions().login_password(user, password, code, in);
    last_retry_ = in.retry_after_s;
    return r;
  }

  RequestContext ctx_of(const SessionInfo& s) {
    RequestContext c;
    c.subject = s.subject;
    c.address = "10.0.0.1";
    return c;
  }

  // Signs in with the password and enrols TOTP; returns the raw secret.
  std::string enrol_totp(const std::string& user) {
    auto s = login(user, kPassword, "");
    EXPECT_TRUE(s.ok());
    EXPECT_TRUE(s->enrol_required);
    auto e = sessions().totp_enrol(ctx_of(*s));
    EXPECT_TRUE(e.ok());
    auto secret = auth::base32_decode(e->secret_base32);
    EXPECT_TRUE(secret.ok());
    auto codes = sessions().totp_confirm(ctx_of(*s), code_at(*secret, 0));
    EXPECT_TRUE(codes.ok());
    if (codes.ok()) recovery_ = *codes;
    return *secret;
  }

  std::string code_at(const std::string& secret, int64_t step_offset) {
    return *auth::totp_code_at_step(secret, auth::totp_step(clock_.now_ms() / 1000) + step_offset);
  }

  // Registers a passkey (ES256, credential id `cred_id`) for `user`, who
  // signs in with the password; returns that session.
  SessionInfo register_passkey(const std::string& user, const wt::TestKey& key, const std::string& cred_id) {
    auto pw = login(user, kPassword, "");
    EXPECT_TRUE(pw.ok());
    auto begin = sessions().passkey_register_begin(ctx_of(*pw));
    EXPECT_TRUE(begin.ok());
    wt::RegOptions ro;
    ro.challenge = std::string(boost::json::parse(begin->options_json).as_object()["challenge"].as_string());
    ro.credential_id = cred_id;
    auto reg = wt::make_registration(key, ro);
    auto id = sessions().passkey_register_finish(ctx_of(*pw), {begin->id, reg.client_data_json, reg.attestation_object, "key"});
    EXPECT_TRUE(id.ok()) << id.error().message;
    return *pw;
  }

  // A step-up ceremony of `ctx`'s user answered by `key` (credential `cred_id`).
  Result<StepUpToken> passkey_step_up(const RequestContext& ctx, const wt::TestKey& key, const std::string& cred_id,
                                      uint32_t count) {
    auto begin = sessions().step_up_begin(ctx);
    if (!begin) return begin.error();
    wt::AssertOptions ao;
    ao.challenge = std::string(boost::json::parse(begin->options_json).as_object()["challenge"].as_string());
    ao.sign_count = count;
    auto as = wt::make_assertion(key, ao);
    return sessions().step_up_finish(ctx, {begin->id, cred_id, as.client_data_json, as.authenticator_data, as.signature, ""});
  }

  // Rows of the store, read through a second connection.
  struct Rows {
    size_t sessions = 0;
    std::map<std::string, size_t> metas;  // by prefix up to the first '/'
  };
  Rows rows() {
    Rows r;
    auto st = store::open_sqlite(dir_ / "v" / "vault.db");
    EXPECT_TRUE(st.ok());
    auto tokens = (*st)->tokens();
    EXPECT_TRUE(tokens.ok());
    for (const auto& t : *tokens) r.sessions += t.kind.starts_with("session");
    auto metas = (*st)->metas();
    EXPECT_TRUE(metas.ok());
    for (const auto& [k, v] : *metas) ++r.metas[k.substr(0, k.find('/'))];
    return r;
  }

  ManualClock clock_;
  fs::path dir_;
  std::unique_ptr<Vault> vault_;
  RequestContext admin_;
  int64_t last_retry_ = 0;
  std::vector<std::string> recovery_;
};

TEST_F(SessionsTest, PasswordAloneAsksForEnrolmentThenTotpIsRequiredAndUsedOnce) {
  auto first = login("dr.a", kPassword, "");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->enrol_required);
  EXPECT_EQ(first->token.substr(0, 4), "mvs_");

  const std::string secret = enrol_totp("dr.a");
  ASSERT_EQ(recovery_.size(), 10u);
  // The enrolment's code (step 0) is used: the same code cannot sign in.
  EXPECT_FALSE(login("dr.a", kPassword, code_at(secret, 0)).ok());
  // Password alone is no longer enough.
  EXPECT_FALSE(login("dr.a", kPassword, "").ok());
  // The next step's code (one step of drift) works once.
  auto s = login("dr.a", kPassword, code_at(secret, 1));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_FALSE(s->enrol_required);
  EXPECT_TRUE(s->has_totp);
  EXPECT_FALSE(login("dr.a", kPassword, code_at(secret, 1)).ok());
  // Two steps old: refused even if never used.
  clock_.advance(120'000);
  EXPECT_FALSE(login("dr.a", kPassword, code_at(secret, -2)).ok());
  // A recovery code works once.
  EXPECT_TRUE(login("dr.a", kPassword, recovery_[3]).ok());
  auto again = login("dr.a", kPassword, recovery_[3]);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().message, kSignInRefused);
}

TEST_F(SessionsTest, EveryRefusalLooksTheSame) {
  const std::string secret = enrol_totp("dr.a");
  ASSERT_TRUE(vault_->accounts().add_user(admin_, "nurse.b", "nurse", {}).ok());  // no password
  for (auto r : {login("nobody", kPassword, ""), login("dr.a", "wrong password here", code_at(secret, 1)),
                 login("dr.a", kPassword, "000000"), login("nurse.b", kPassword, "")}) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unauthenticated);
    EXPECT_EQ(r.error().message, kSignInRefused);
  }
  add("nurse.c", "nurse");
  ASSERT_TRUE(login("nurse.c", kPassword, "").ok());
  ASSERT_TRUE(vault_->accounts().set_expiry(admin_, "nurse.c", clock_.now_ms() - 1).ok());
  auto expired = login("nurse.c", kPassword, "");
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().message, kSignInRefused);
  ASSERT_TRUE(vault_->accounts().set_disabled(admin_, "dr.a", true).ok());
  auto disabled = login("dr.a", kPassword, code_at(secret, 1));
  ASSERT_FALSE(disabled.ok());
  EXPECT_EQ(disabled.error().message, kSignInRefused);
}

TEST_F(SessionsTest, GuessesAreThrottledWithGrowingWaitsButTheOwnerGetsInElsewhere) {
  const std::string secret = enrol_totp("dr.a");
  // Five free failures for the account from this address, then waits.
  for (int i = 0; i < 5; ++i) {
    auto r = login("dr.a", "wrong password " + std::to_string(i), "", "10.9.9.9");
    ASSERT_EQ(r.error().code, Errc::unauthenticated) << i;
  }
  auto t = login("dr.a", kPassword, code_at(secret, 1), "10.9.9.9");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, Errc::throttled);  // not checked, even with the right credentials
  EXPECT_EQ(last_retry_, 1);
  clock_.advance(1000);
  EXPECT_EQ(login("dr.a", "wrong again", "", "10.9.9.9").error().code, Errc::unauthenticated);
  EXPECT_EQ(login("dr.a", "wrong again", "", "10.9.9.9").error().code, Errc::throttled);
  EXPECT_EQ(last_retry_, 2);  // doubled
  // The owner, from another address, with both factors.
  auto owner = login("dr.a", kPassword, code_at(secret, 1), "10.0.0.2");
  ASSERT_TRUE(owner.ok()) << owner.error().message;
  // The waits are capped at 15 minutes and there is no permanent lockout.
  for (int i = 0; i < 12; ++i) {  // 1 s doubled ten times passes the cap
    clock_.advance(15 * 60 * 1000);
    (void)login("dr.a", "wrong", "", "10.9.9.9");
  }
  EXPECT_EQ(login("dr.a", "wrong", "", "10.9.9.9").error().code, Errc::throttled);
  EXPECT_LE(last_retry_, 15 * 60);
}

TEST_F(SessionsTest, OneAddressGuessingManyNamesIsThrottled) {
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(login("user" + std::to_string(i), "guess", "", "10.7.7.7").error().code, Errc::unauthenticated);
  EXPECT_EQ(login("another", "guess", "", "10.7.7.7").error().code, Errc::throttled);
  // Another address is not affected.
  EXPECT_EQ(login("another", "guess", "", "10.7.7.8").error().code, Errc::unauthenticated);
}

TEST_F(SessionsTest, SessionsEndOnIdleExpiryLogoutAndRevocation) {
  const std::string secret = enrol_totp("dr.a");
  auto s = login("dr.a", kPassword, code_at(secret, 1));
  ASSERT_TRUE(s.ok());
  // Used every 30 s: stays alive past the idle time.
  for (int i = 0; i < 4; ++i) {
    clock_.advance(30'000);
    auto again = sessions().session(s->token, "10.0.0.1");
    ASSERT_TRUE(again.ok()) << i;
    EXPECT_EQ(again->csrf, s->csrf);
  }
  clock_.advance(61'000);
  EXPECT_FALSE(sessions().session(s->token, "10.0.0.1").ok());

  clock_.advance(60'000);
  auto a = login("dr.a", kPassword, code_at(secret, 0));
  ASSERT_TRUE(a.ok());
  clock_.advance(30'000);
  auto b = login("dr.a", kPassword, code_at(secret, 1));
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_NE(a->csrf, b->csrf);
  auto listed = sessions().list(ctx_of(*a), a->token_id);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u);
  ASSERT_TRUE(sessions().logout(ctx_of(*a), a->token_id).ok());
  EXPECT_FALSE(sessions().session(a->token, "10.0.0.1").ok());
  EXPECT_TRUE(sessions().session(b->token, "10.0.0.1").ok());
  ASSERT_TRUE(vault_->accounts().revoke_all(admin_, "dr.a").ok());
  EXPECT_FALSE(sessions().session(b->token, "10.0.0.1").ok());
  EXPECT_FALSE(sessions().session("mvs_garbage", "10.0.0.1").ok());
}

TEST_F(SessionsTest, AbsoluteTimeout) {
  const std::string secret = enrol_totp("dr.a");
  auto s = login("dr.a", kPassword, code_at(secret, 1));
  ASSERT_TRUE(s.ok());
  for (int i = 0; i < 3600 / 50; ++i) {
    clock_.advance(50'000);
    if (!sessions().session(s->token, "10.0.0.1").ok()) {
      EXPECT_GE(i, 3600 / 50 - 1);
      return;
    }
  }
  FAIL() << "session outlived its absolute timeout";
}

TEST_F(SessionsTest, PasskeyRegistrationAndSignInWithSingleUseCeremonies) {
  auto pw = login("dr.a", kPassword, "");
  ASSERT_TRUE(pw.ok());
  auto begin = sessions().passkey_register_begin(ctx_of(*pw));
  ASSERT_TRUE(begin.ok()) << begin.error().message;
  auto opts = boost::json::parse(begin->options_json).as_object();
  const std::string challenge(opts["challenge"].as_string());
  EXPECT_EQ(opts["rp"].as_object()["id"].as_string(), "example.org");
  auto key = wt::make_key(auth::webauthn::Alg::es256);
  wt::RegOptions ro;
  ro.challenge = challenge;
  auto reg = wt::make_registration(key, ro);
  auto id = sessions().passkey_register_finish(ctx_of(*pw), {begin->id, reg.client_data_json, reg.attestation_object, "laptop"});
  ASSERT_TRUE(id.ok()) << id.error().message;
  // The same ceremony again: consumed.
  auto replay = sessions().passkey_register_finish(ctx_of(*pw), {begin->id, reg.client_data_json, reg.attestation_object, "x"});
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.error().code, Errc::unauthenticated);

  SignIn in{"10.0.0.1", 0};
  auto lb = sessions().passkey_login_begin(in);
  ASSERT_TRUE(lb.ok());
  const std::string lc(boost::json::parse(lb->options_json).as_object()["challenge"].as_string());
  wt::AssertOptions ao;
  ao.challenge = lc;
  auto as = wt::make_assertion(key, ao);
  PasskeyAssertion pa{lb->id, ro.credential_id, as.client_data_json, as.authenticator_data, as.signature, ""};
  auto s = sessions().passkey_login_finish(pa, in);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->subject.user, "dr.a");
  EXPECT_FALSE(s->enrol_required);
  EXPECT_EQ(s->passkeys, 1);
  // Replayed: the ceremony is gone.
  auto again = sessions().passkey_login_finish(pa, in);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().message, kSignInRefused);
  // A fresh ceremony, a flipped signature bit.
  auto lb2 = sessions().passkey_login_begin(in);
  ASSERT_TRUE(lb2.ok());
  ao.challenge = std::string(boost::json::parse(lb2->options_json).as_object()["challenge"].as_string());
  ao.sign_count = 2;
  auto bad = wt::make_assertion(key, ao);
  bad.signature[10] ^= 1;
  auto refused = sessions().passkey_login_finish({lb2->id, ro.credential_id, bad.client_data_json, bad.authenticator_data, bad.signature, ""}, in);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::unauthenticated);
}

TEST_F(SessionsTest, PasskeyStepUpGivesAOneTimeTokenOfThatUserOnly) {
  add("dr.b", "physician");
  const std::string id_a = "credential-of-dr-a", id_b = "credential-of-dr-b";
  auto key_a = wt::make_key(auth::webauthn::Alg::es256);
  auto key_b = wt::make_key(auth::webauthn::Alg::es256);
  const RequestContext a = ctx_of(register_passkey("dr.a", key_a, id_a));
  const RequestContext b = ctx_of(register_passkey("dr.b", key_b, id_b));

  // The ceremony allows only the user's own credentials.
  auto begin = sessions().step_up_begin(a);
  ASSERT_TRUE(begin.ok()) << begin.error().message;
  auto opts = boost::json::parse(begin->options_json).as_object();
  EXPECT_EQ(opts["userVerification"].as_string(), "required");
  ASSERT_EQ(opts["allowCredentials"].as_array().size(), 1u);
  EXPECT_EQ(opts["allowCredentials"].as_array()[0].as_object()["id"].as_string(),
            auth::webauthn::base64url_encode(id_a));

  auto token = passkey_step_up(a, key_a, id_a, 1);
  ASSERT_TRUE(token.ok()) << token.error().message;
  EXPECT_EQ(token->token.substr(0, 4), kStepUpTokenPrefix);
  EXPECT_EQ(token->token.size(), 4u + 43u);
  EXPECT_EQ(token->expires_ms, clock_.now_ms() + 120'000);
  EXPECT_TRUE(sessions().step_up(a, token->token).ok());
  auto again = sessions().step_up(a, token->token);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::unauthenticated);

  // dr.b's own valid passkey cannot answer dr.a's ceremony.
  auto foreign = passkey_step_up(a, key_b, id_b, 1);
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.error().code, Errc::unauthenticated);
  EXPECT_EQ(foreign.error().message, "step-up authentication failed");
  // A counter that does not grow (a cloned authenticator) is refused.
  EXPECT_FALSE(passkey_step_up(a, key_a, id_a, 1).ok());
  // dr.a's token is not dr.b's, and the attempt spends it.
  auto stolen = passkey_step_up(a, key_a, id_a, 2);
  ASSERT_TRUE(stolen.ok());
  EXPECT_FALSE(sessions().step_up(b, stolen->token).ok());
  EXPECT_FALSE(sessions().step_up(a, stolen->token).ok());
  // Two minutes later the token is gone.
  auto late = passkey_step_up(a, key_a, id_a, 3);
  ASSERT_TRUE(late.ok());
  clock_.advance(120'000);
  EXPECT_FALSE(sessions().step_up(a, late->token).ok());
  // Malformed and unknown tokens; a sign-in ceremony is not a step-up one.
  for (const std::string& bad : std::vector<std::string>{"mvu_", "mvu_short", "mvu_" + std::string(43, 'A'), std::string(47, 'x')})
    EXPECT_FALSE(sessions().step_up(a, bad).ok()) << bad;
  SignIn in{"10.0.0.1", 0};
  auto lb = sessions().passkey_login_begin(in);
  ASSERT_TRUE(lb.ok());
  wt::AssertOptions ao;
  ao.challenge = std::string(boost::json::parse(lb->options_json).as_object()["challenge"].as_string());
  ao.sign_count = 10;
  auto as = wt::make_assertion(key_a, ao);
  EXPECT_FALSE(sessions().step_up_finish(a, {lb->id, id_a, as.client_data_json, as.authenticator_data, as.signature, ""}).ok());

  // No passkey: no ceremony.
  add("nurse.c", "nurse");
  auto c = login("nurse.c", kPassword, "");
  ASSERT_TRUE(c.ok());
  auto none = sessions().step_up_begin(ctx_of(*c));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, Errc::invalid);
}

TEST_F(SessionsTest, StepUpTokenIsUsedOnceUnderConcurrency) {
  auto key = wt::make_key(auth::webauthn::Alg::es256);
  const RequestContext a = ctx_of(register_passkey("dr.a", key, "cred-a"));
  for (uint32_t round = 1; round <= 5; ++round) {
    auto token = passkey_step_up(a, key, "cred-a", round);
    ASSERT_TRUE(token.ok());
    std::atomic<int> accepted{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
      threads.emplace_back([&] { accepted += sessions().step_up(a, token->token).ok() ? 1 : 0; });
    for (auto& t : threads) t.join();
    EXPECT_EQ(accepted.load(), 1) << round;
  }
}

TEST_F(SessionsTest, PurgeDeletesDeadSessionsCeremoniesTokensAndOldCountersOnly) {
  auto key = wt::make_key(auth::webauthn::Alg::es256);
  const RequestContext a = ctx_of(register_passkey("dr.a", key, "cred-a"));  // session 1 (enrol-required, goes idle)
  // Dead by the end: an ended session, an idle one, an expired ceremony, an
  // expired step-up token, counters of an old guess.
  add("dr.b", "physician");  // password only: sessions that need no second factor yet
  auto ended = login("dr.b", kPassword, "");
  ASSERT_TRUE(ended.ok());
  ASSERT_TRUE(sessions().logout(ctx_of(*ended), ended->token_id).ok());
  SignIn in{"10.0.0.1", 0};
  ASSERT_TRUE(sessions().passkey_login_begin(in).ok());
  ASSERT_TRUE(passkey_step_up(a, key, "cred-a", 1).ok());
  EXPECT_FALSE(login("nobody", "guess", "", "10.5.5.5").ok());  // 3 counters
  const Rows before = rows();
  EXPECT_EQ(before.sessions, 2u);
  EXPECT_EQ(before.metas.at("throttle"), 4u);  // + the address of the sign-ins

  clock_.advance(13LL * 60 * 60 * 1000);
  // Alive at the end: a session, a ceremony, a token, a fresh guess.
  auto live = login("dr.b", kPassword, "");
  ASSERT_TRUE(live.ok());
  ASSERT_TRUE(sessions().passkey_login_begin(in).ok());
  auto token = passkey_step_up(a, key, "cred-a", 2);
  ASSERT_TRUE(token.ok());
  EXPECT_FALSE(login("someone", "guess", "", "10.6.6.6").ok());  // counters of its own

  const size_t audit_before = vault_->audit_log()->size();
  auto n = sessions().purge();
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(n->sessions, 2u);
  EXPECT_EQ(n->ceremonies, 1u);
  EXPECT_EQ(n->step_up_tokens, 1u);
  EXPECT_EQ(n->counters, 3u);
  const Rows after = rows();
  EXPECT_EQ(after.sessions, 1u);
  EXPECT_EQ(after.metas.at("ceremony"), 1u);
  EXPECT_EQ(after.metas.at("step-up-token"), 1u);
  EXPECT_EQ(after.metas.at("throttle"), 4u);  // 10.0.0.1 refreshed, the new guess's 3
  EXPECT_EQ(vault_->audit_log()->size(), audit_before);  // the audit log is untouched
  // What is alive still works.
  EXPECT_TRUE(sessions().session(live->token, "10.0.0.1").ok());
  EXPECT_TRUE(sessions().step_up(a, token->token).ok());
  // Nothing left to delete.
  auto again = sessions().purge();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->sessions + again->ceremonies + again->step_up_tokens + again->counters, 0u);
}

TEST_F(SessionsTest, WeakPasswordsAreRefusedWithTheReason) {
  auto st = sessions().set_password(admin_, "dr.a", "short");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::invalid);
  EXPECT_EQ(st.error().message.find("short\""), std::string::npos);  // never echoes the password
}

}  // namespace
}  // namespace medvault::vault
