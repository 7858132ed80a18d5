// The medvault command line. Every command exits 0 on success, or non-zero
// with one line "medvault: <message>" on stderr (exit codes: common/errors.h).
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <sodium.h>

#include <boost/json.hpp>
#include <optional>

#include "audit/checkpoint_timer.h"
#include "audit/fhir_event.h"
#include "cli/backup_cmd.h"
#include "cli/import.h"
#include "cli/secrets.h"
#include "common/file.h"
#include "crypto/secret.h"
#include "demo/generator.h"
#include "fhir/datetime.h"
#include "http/server.h"
#include "http/tls.h"
#include "store/store.h"
#include "vault/vault.h"

namespace mv = medvault;

namespace {

int fail(const mv::Error& e) {
  std::fprintf(stderr, "medvault: %s\n", e.message.c_str());
  return mv::error_info(e.code).exit_code;
}

mv::vault::RequestContext admin_ctx(const char* purpose = "HOPERAT") {
  mv::vault::RequestContext ctx;
  ctx.subject = {"system", "system", {}};
  ctx.purpose = purpose;
  ctx.address = "cli";
  return ctx;
}

// Test suites set MEDVAULT_TEST_FAST_KDF=1 so that each of hundreds of
// unseals does not cost 256 MiB and a second; the parameters are recorded in
// the seal file, so a vault made that way stays weak: never for real data.
mv::crypto::Argon2Params argon2_params() {
  const char* fast = std::getenv("MEDVAULT_TEST_FAST_KDF");
  if (fast && std::string(fast) == "1") return mv::crypto::Argon2Params::interactive();
  return mv::crypto::Argon2Params::moderate();
}

// "90s", "30m", "8h", "90d" or plain seconds.
// The end of a UTC day "YYYY-MM-DD" in ms, or 0 for "".
mv::Result<int64_t> expiry_ms(const std::string& date) {
  if (date.empty()) return int64_t{0};
  auto r = mv::fhir::is_fhir_date(date) && date.size() == 10 ? mv::fhir::parse_time_range(date) : std::nullopt;
  if (!r) return mv::make_error(mv::Errc::invalid, "expiry must be a date YYYY-MM-DD");
  return r->end_ms;
}

mv::Result<int64_t> parse_duration_ms(const std::string& s) {
  if (s.empty()) return mv::make_error(mv::Errc::invalid, "empty duration");
  size_t pos = 0;
  long long n = 0;
  try {
    n = std::stoll(s, &pos);
  } catch (...) {
    return mv::make_error(mv::Errc::invalid, "bad duration \"" + s + "\" (e.g. 30m, 8h, 90d)");
  }
  std::string unit = s.substr(pos);
  long long mult = 1000;
  if (unit == "m") mult = 60'000;
  else if (unit == "h") mult = 3'600'000;
  else if (unit == "d") mult = 86'400'000;
  else if (!unit.empty() && unit != "s")
    return mv::make_error(mv::Errc::invalid, "bad duration \"" + s + "\" (e.g. 30m, 8h, 90d)");
  if (n <= 0 || n > 3650LL * 86'400) return mv::make_error(mv::Errc::invalid, "duration out of range");
  return static_cast<int64_t>(n * mult);
}

struct Common {
  std::string data;
  std::string store;  // postgresql://...: the vault lives in that database
  mv::cli::SecretSources secrets;
  // One of --data and --store is required: open() says so.
  void add_to(CLI::App* app) {
    app->add_option("--data", data, "vault directory (with --store: this node's own directory, for tls/)");
    app->add_option("--store", store, "postgresql://... : the vault kept in PostgreSQL (instead of --data)");
    app->add_option("--passphrase-file", secrets.passphrase_file,
                    "read the passphrase from this file (else MEDVAULT_PASSPHRASE, else a prompt)");
    app->add_option("--key-file", secrets.key_file, "unseal with this key file");
    app->add_option("--share", secrets.share_files, "unseal with recovery share files (k of them)");
  }
  mv::Result<std::unique_ptr<mv::vault::Vault>> open() const {
    if (data.empty() && store.empty())
      return mv::make_error(mv::Errc::invalid, "give --data DIR or --store postgresql://...");
    if (!store.empty() && !mv::store::is_postgres_url(store))
      return mv::make_error(mv::Errc::invalid, "--store takes a postgresql:// URL");
    MV_ASSIGN(auto how, mv::cli::unsealer_from(secrets));
    if (!store.empty()) return mv::vault::Vault::open_store(store, data, how);
    return mv::vault::Vault::open(data, how);
  }
};

}  // namespace

int main(int argc, char** argv) {
  ::umask(077);  // every file medvault creates is private to its user
  if (!mv::crypto::init()) {
    std::fprintf(stderr, "medvault: libsodium cannot be initialised\n");
    return 10;
  }
  CLI::App app{"medvault: the patient-records vault of a medical practice"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "medvault 0.1.0");
  int rc = 0;

  // init
  Common init_c;
  int shares = 0, threshold = 0;
  std::string kit;
  auto* init = app.add_subcommand("init", "create a vault");
  init->add_option("--data", init_c.data, "vault directory (with --store: this node's directory, for tls/)");
  init->add_option("--store", init_c.store, "postgresql://... : create the vault in this empty database");
  init->add_option("--passphrase-file", init_c.secrets.passphrase_file, "read the passphrase from this file");
  init->add_option("--key-file", init_c.secrets.key_file, "also seal the master key under this key file");
  init->add_option("--shares", shares, "split a recovery key into N shares");
  init->add_option("--threshold", threshold, "K shares unseal");
  init->add_option("--kit", kit, "directory for the recovery kit (share files and instructions)");
  init->callback([&] {
    if (init_c.data.empty() && init_c.store.empty()) {
      rc = fail(mv::make_error(mv::Errc::invalid, "give --data DIR or --store postgresql://..."));
      return;
    }
    if (!init_c.store.empty() && !mv::store::is_postgres_url(init_c.store)) {
      rc = fail(mv::make_error(mv::Errc::invalid, "--store takes a postgresql:// URL"));
      return;
    }
    mv::vault::InitOptions o;
    o.dir = init_c.data;
    o.store_url = init_c.store;
    o.shares = shares;
    o.threshold = threshold;
    o.kit_dir = kit;
    o.argon2 = argon2_params();
    auto pass = mv::cli::read_passphrase(init_c.secrets.passphrase_file, "MEDVAULT_PASSPHRASE",
                                         "New vault passphrase: ", true);
    if (pass.ok()) o.passphrase = std::move(pass).value();
    else if (init_c.secrets.key_file.empty() && shares == 0) { rc = fail(pass.error()); return; }
    if (!init_c.secrets.key_file.empty()) {
      auto kf = mv::read_file(init_c.secrets.key_file, 1024 * 1024);
      if (!kf.ok()) { rc = fail(kf.error()); return; }
      if (kf->size() < 32) { rc = fail(mv::make_error(mv::Errc::invalid, "key file must hold at least 32 bytes")); return; }
      o.keyfile = std::move(kf).value();
    }
    auto st = mv::vault::Vault::init(o);
    if (!st.ok()) { rc = fail(st.error()); return; }
    if (!init_c.data.empty()) {
      auto tls = mv::http::create_self_signed(std::filesystem::path(init_c.data) / "tls");
      if (!tls.ok()) { rc = fail(tls.error()); return; }
    }
    std::printf("vault created in %s\n", init_c.store.empty() ? init_c.data.c_str() : "the PostgreSQL database");
    if (shares) std::printf("recovery kit: %d shares, any %d unseal; written to %s\n", shares, threshold, kit.c_str());
  });

  // serve
  Common serve_c;
  mv::http::ServeOptions serve_opts;
  auto* serve = app.add_subcommand("serve", "run the HTTPS FHIR server");
  serve_c.add_to(serve);
  serve->add_option("--listen", serve_opts.listen, "HOST:PORT (port 0: any free port)");
  serve->add_option("--threads", serve_opts.threads, "worker threads (0: 2 per core)");
  mv::audit::SyslogOptions syslog_opts;
  serve->add_option("--syslog", syslog_opts.url,
                    "forward the audit log to this syslog collector: tcp://HOST:PORT or tls://HOST:PORT");
  serve->add_option("--syslog-ca", syslog_opts.ca_file,
                    "CA certificates (PEM) the tls:// collector's certificate must chain to");
  serve->add_flag("--syslog-from-start", syslog_opts.from_start,
                  "first forwarding to this collector: send the whole log, not only new entries");
  int checkpoint_interval_s = 60;
  std::string serve_witness_file;
  serve->add_option("--checkpoint-interval", checkpoint_interval_s,
                    "sign an audit checkpoint every N seconds when the log grew (0: only every 1,000 entries)")
      ->check(CLI::Range(0, 86400));
  serve->add_option("--witness-file", serve_witness_file,
                    "write each new signed checkpoint to this file (atomically), for an external witness");
  mv::backup::ScheduleOptions backup_schedule;
  mv::cli::add_schedule_options(*serve, backup_schedule);
  serve->add_option("--public-url", serve_opts.public_url,
                    "https://HOST[:PORT] browsers use (passkeys' rpId is HOST); default https://localhost:PORT");
  std::string session_idle = "15m", session_max = "12h";
  serve->add_option("--session-idle", session_idle, "end sessions unused for this long (e.g. 15m)");
  serve->add_option("--session-max", session_max, "end sessions this long after sign-in (e.g. 12h)");
  serve->add_option("--client-ca", serve_opts.client_ca, "CA certificates (PEM) of client certificates (mutual TLS)");
  serve->add_option("--client-crl", serve_opts.client_crl, "revocation list (PEM) of that CA (SIGHUP re-reads CA and CRL)");
  serve->add_option("--purge-interval", serve_opts.purge_interval_s,
                    "seconds between deletions of dead sessions, ceremonies and step-up tokens (0: never)");
  serve->callback([&] {
    for (auto [text, out] : {std::pair{&session_idle, &serve_opts.session_idle_s}, std::pair{&session_max, &serve_opts.session_max_s}}) {
      auto ms = parse_duration_ms(*text);
      if (!ms.ok()) { rc = fail(ms.error()); return; }
      *out = *ms / 1000;
    }
    auto v = serve_c.open();
    if (!v.ok()) { rc = fail(v.error()); return; }
    std::unique_ptr<mv::audit::SyslogForwarder> forwarder;  // stopped before the vault closes
    if (syslog_opts.url.empty() && (!syslog_opts.ca_file.empty() || syslog_opts.from_start)) {
      rc = fail(mv::make_error(mv::Errc::invalid, "--syslog-ca and --syslog-from-start need --syslog"));
      return;
    }
    if (!syslog_opts.url.empty()) {
      auto f = (*v)->forward_audit_to_syslog(syslog_opts);
      if (!f.ok()) { rc = fail(f.error()); return; }
      forwarder = std::move(f).value();
    }
    std::unique_ptr<mv::audit::CheckpointTimer> checkpoints;  // stopped first: signs a last one
    if (checkpoint_interval_s > 0 && (*v)->audit_log() != nullptr) {
      checkpoints = std::make_unique<mv::audit::CheckpointTimer>(
          *(*v)->audit_log(), std::chrono::seconds(checkpoint_interval_s),
          [file = serve_witness_file](const std::string& note) {
            if (file.empty()) return;
            if (auto st = mv::write_file_atomic(file, note); !st.ok())
              std::fprintf(stderr, "{\"event\":\"witness-file-failed\"}\n");
          });
    }
    std::unique_ptr<mv::backup::BackupSchedule> backups;  // stopped before the checkpoints: waits for a run
    if (!backup_schedule.target.empty()) {
      auto sched = mv::backup::BackupSchedule::start(**v, backup_schedule);
      if (!sched.ok()) { rc = fail(sched.error()); return; }
      backups = std::move(sched).value();
    }
    auto st = mv::http::serve(**v, serve_opts);
    if (!st.ok()) rc = fail(st.error());
  });

  // migrate
  Common migrate_c;
  std::string migrate_to;
  auto* migrate = app.add_subcommand("migrate", "move a SQLite vault into an empty PostgreSQL database");
  migrate->add_option("--from", migrate_c.data, "the SQLite vault directory")->required();
  migrate->add_option("--to", migrate_to, "postgresql://... (an empty database)")->required();
  migrate->add_option("--passphrase-file", migrate_c.secrets.passphrase_file,
                      "read the passphrase from this file (else MEDVAULT_PASSPHRASE, else a prompt)");
  migrate->add_option("--key-file", migrate_c.secrets.key_file, "unseal with this key file");
  migrate->add_option("--share", migrate_c.secrets.share_files, "unseal with recovery share files (k of them)");
  migrate->callback([&] {
    auto how = mv::cli::unsealer_from(migrate_c.secrets);
    if (!how.ok()) { rc = fail(how.error()); return; }
    auto st = mv::vault::Vault::migrate(migrate_c.data, migrate_to, *how);
    if (!st.ok()) { rc = fail(st.error()); return; }
    std::printf("vault moved to PostgreSQL; audit log verified\n");
  });

  // import
  Common import_c;
  std::vector<std::string> import_files;
  auto* imp = app.add_subcommand("import", "import FHIR NDJSON or Bundle files");
  import_c.add_to(imp);
  imp->add_option("files", import_files, "files")->required();
  imp->callback([&] {
    auto v = import_c.open();
    if (!v.ok()) { rc = fail(v.error()); return; }
    auto sum = mv::cli::run_import((*v)->repository(), admin_ctx(), import_files);
    if (!sum.ok()) { rc = fail(sum.error()); return; }
    std::fprintf(stderr, "imported %llu resources (%llu new, %llu updated, %llu unchanged) in %.1f s, %.0f/s; %llu rejected\n",
                 (unsigned long long)sum->accepted, (unsigned long long)sum->created,
                 (unsigned long long)sum->updated, (unsigned long long)sum->unchanged, sum->seconds,
                 sum->seconds > 0 ? sum->accepted / sum->seconds : 0.0, (unsigned long long)sum->rejected);
    if (sum->rejected) rc = 1;
  });

  // export
  Common export_c;
  auto* exp = app.add_subcommand("export", "write every current resource as NDJSON on stdout (audited)");
  export_c.add_to(exp);
  exp->callback([&] {
    auto v = export_c.open();
    if (!v.ok()) { rc = fail(v.error()); return; }
    auto st = (*v)->repository().export_all(admin_ctx(), [](const mv::vault::StoredResource& r) {
      std::fwrite(r.json.data(), 1, r.json.size(), stdout);
      std::fputc('\n', stdout);
      return !std::ferror(stdout);
    });
    std::fflush(stdout);
    if (!st.ok()) rc = fail(st.error());
  });

  // key rotate / key passphrase
  auto* key = app.add_subcommand("key", "key management");
  key->require_subcommand(1);
  Common rotate_c;
  auto* rotate = key->add_subcommand("rotate", "new key-encryption key; re-wrap every data key");
  rotate_c.add_to(rotate);
  rotate->callback([&] {
    auto v = rotate_c.open();
    if (!v.ok()) { rc = fail(v.error()); return; }
    auto st = (*v)->rotate_kek(admin_ctx());
    if (!st.ok()) { rc = fail(st.error()); return; }
    auto s = (*v)->status();
    if (s.ok()) std::printf("key-encryption key is now version %u; %llu data keys re-wrapped\n", s->kek_version,
                            (unsigned long long)s->data_keys);
  });
  Common pass_c;
  std::string new_pass_file;
  auto* passwd = key->add_subcommand("passphrase", "change the passphrase (new one from --new-passphrase-file, MEDVAULT_NEW_PASSPHRASE or a prompt)");
  pass_c.add_to(passwd);
  passwd->add_option("--new-passphrase-file", new_pass_file, "file holding the new passphrase");
  passwd->callback([&] {
    auto v = pass_c.open();
    if (!v.ok()) { rc = fail(v.error()); return; }
    auto np = mv::cli::read_passphrase(new_pass_file, "MEDVAULT_NEW_PASSPHRASE", "New passphrase: ", true);
    if (!np.ok()) { rc = fail(np.error()); return; }
    auto st = (*v)->change_passphrase(admin_ctx(), *np, argon2_params());
    if (!st.ok()) { rc = fail(st.error()); return; }
    std::printf("passphrase changed\n");
  });

  // status
  Common status_c;
  auto* status = app.add_subcommand("status", "show the state of the vault");
  status_c.add_to(status);
  status->callback([&] {
    auto v = status_c.open();
    if (!v.ok()) { rc = fail(v.error()); return; }
    auto s = (*v)->status();
    if (!s.ok()) { rc = fail(s.error()); return; }
    std::printf("vault id:              %s\nstore:                 %s (schema %d)\n", s->vault_id.c_str(),
                s->store_kind.c_str(), s->schema_version);
    std::printf("resources:             %llu\naudit entries:         %llu\n", (unsigned long long)s->resources,
                (unsigned long long)s->audit_entries);
    std::printf("key-encryption key:    version %u\ndata keys:             %llu\n", s->kek_version,
                (unsigned long long)s->data_keys);
    std::printf("unseal with:           %s%s%s\n", s->has_passphrase ? "passphrase " : "",
                s->has_keyfile ? "key-file " : "",
                s->recovery_shares ? ("recovery " + std::to_string(s->recovery_threshold) + "-of-" +
                                      std::to_string(s->recovery_shares)).c_str() : "");
    std::printf("keys locked in memory: %s\n", s->keys_locked_in_memory ? "yes" : "NO (raise RLIMIT_MEMLOCK)");
  });

  // check
  Common check_c;
  auto* check = app.add_subcommand("check", "verify the store, the audit chain and that every record decrypts");
  check_c.add_to(check);
  check->callback([&] {
    auto v = check_c.open();
    if (!v.ok()) { rc = fail(v.error()); return; }
    auto st = (*v)->verify();
    if (!st.ok()) { rc = fail(st.error()); return; }
    std::printf("ok\n");
  });

  // audit verify / checkpoint / prove / export. Each records its own entry
  // (reading the log is an access); verify records after checking, with the
  // outcome, so that a damaged log is still reported.
  auto* audit = app.add_subcommand("audit", "the tamper-evident audit log");
  audit->require_subcommand(1);
  auto audit_entry = [](const char* action) {
    mv::audit::Entry e;
    e.time_ms = mv::SystemClock::instance().now_ms();
    e.user = "system";
    e.role = "system";
    e.action = action;
    e.purpose = "HOPERAT";
    e.address = "cli";
    e.outcome = "0";
    return e;
  };
  auto open_log = [](const Common& c, std::unique_ptr<mv::vault::Vault>& holder) -> mv::Result<mv::audit::Log*> {
    MV_ASSIGN(holder, c.open());
    mv::audit::Log* log = holder->audit_log();
    if (log == nullptr) return mv::make_error(mv::Errc::internal, "this vault has no audit log");
    return log;
  };

  Common audit_c;
  std::string witness_file;
  auto* averify = audit->add_subcommand(
      "verify", "recompute every leaf hash, the MAC chain, the tree and every checkpoint; name the first bad entry");
  audit_c.add_to(averify);
  averify->add_option("--checkpoint", witness_file,
                      "an exported checkpoint (witness copy): the log must extend it");
  averify->callback([&] {
    mv::audit::VerifyOptions vo;
    if (!witness_file.empty()) {
      auto note = mv::read_file(witness_file, mv::audit::kMaxNoteSize);
      if (!note.ok()) { rc = fail(note.error()); return; }
      vo.witness_note = std::move(note).value();
    }
    std::unique_ptr<mv::vault::Vault> v;
    auto log = open_log(audit_c, v);
    if (!log.ok()) { rc = fail(log.error()); return; }
    auto rep = (*log)->verify(vo);
    auto e = audit_entry("audit-verify");
    if (!rep.ok()) e.outcome = "8";
    auto recorded = (*log)->append(std::move(e));
    if (!rep.ok()) { rc = fail(rep.error()); return; }
    if (!recorded.ok()) { rc = fail(recorded.error()); return; }
    std::printf("audit log ok: %llu entries, %llu checkpoints, root %s\n",
                (unsigned long long)rep->entries, (unsigned long long)rep->checkpoints, rep->root_hex.c_str());
    if (rep->witness_size)
      std::printf("extends the exported checkpoint of %llu entries\n", (unsigned long long)*rep->witness_size);
  });

  Common acp_c;
  std::string cp_out;
  bool cp_vkey = false;
  auto* acp = audit->add_subcommand("checkpoint", "sign a checkpoint of the log now; print it or write it to --out");
  acp_c.add_to(acp);
  acp->add_option("--out", cp_out, "write the signed checkpoint to this file (for a witness)");
  acp->add_flag("--vkey", cp_vkey, "also print the verifier key");
  acp->callback([&] {
    std::unique_ptr<mv::vault::Vault> v;
    auto log = open_log(acp_c, v);
    if (!log.ok()) { rc = fail(log.error()); return; }
    if (auto st = (*log)->append(audit_entry("audit-checkpoint")); !st.ok()) { rc = fail(st.error()); return; }
    auto note = (*log)->checkpoint();
    if (!note.ok()) { rc = fail(note.error()); return; }
    if (!cp_out.empty()) {
      if (auto st = mv::write_file_atomic(cp_out, *note); !st.ok()) { rc = fail(st.error()); return; }
    } else {
      std::fwrite(note->data(), 1, note->size(), stdout);
    }
    if (cp_vkey) std::printf("%s\n", (*log)->verifier_key().c_str());
  });

  Common aprove_c;
  uint64_t prove_entry = 0, prove_size = 0;
  std::optional<uint64_t> prove_old;
  auto* aprove = audit->add_subcommand("prove", "print an inclusion proof (--entry) or a consistency proof (--consistency) as JSON");
  aprove_c.add_to(aprove);
  auto* entry_opt = aprove->add_option("--entry", prove_entry, "sequence number of the entry (1-based)");
  auto* cons_opt = aprove->add_option("--consistency", prove_old, "old tree size to prove consistency from");
  entry_opt->excludes(cons_opt);
  aprove->add_option("--size", prove_size, "tree size (default: the whole log)");
  aprove->callback([&] {
    if (!prove_old && prove_entry == 0) { rc = fail(mv::make_error(mv::Errc::invalid, "give --entry N or --consistency OLD_SIZE")); return; }
    std::unique_ptr<mv::vault::Vault> v;
    auto log = open_log(aprove_c, v);
    if (!log.ok()) { rc = fail(log.error()); return; }
    if (auto st = (*log)->append(audit_entry("audit-prove")); !st.ok()) { rc = fail(st.error()); return; }
    auto hexes = [](const std::vector<mv::audit::merkle::Hash>& path) {
      boost::json::array a;
      for (const auto& h : path) a.emplace_back(mv::audit::merkle::to_hex(h));
      return a;
    };
    auto b64 = [](const mv::audit::merkle::Hash& h) {
      std::string out(sodium_base64_ENCODED_LEN(h.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
      sodium_bin2base64(out.data(), out.size(), h.data(), h.size(), sodium_base64_VARIANT_ORIGINAL);
      out.pop_back();
      return out;
    };
    boost::json::object out;
    if (prove_old) {
      auto p = (*log)->prove_consistency(*prove_old, prove_size);
      if (!p.ok()) { rc = fail(p.error()); return; }
      out = {{"old_size", p->old_size}, {"tree_size", p->size},
             {"old_root_hex", mv::audit::merkle::to_hex(p->old_root)}, {"old_root_b64", b64(p->old_root)},
             {"root_hex", mv::audit::merkle::to_hex(p->root)}, {"root_b64", b64(p->root)},
             {"consistency_path", hexes(p->path)}};
    } else {
      auto p = (*log)->prove_inclusion(prove_entry, prove_size);
      if (!p.ok()) { rc = fail(p.error()); return; }
      out = {{"entry", prove_entry}, {"leaf_index", p->index}, {"tree_size", p->size},
             {"leaf_hash", mv::audit::merkle::to_hex(p->leaf)},
             {"root_hex", mv::audit::merkle::to_hex(p->root)}, {"root_b64", b64(p->root)},
             {"inclusion_path", hexes(p->path)}};
    }
    out["origin"] = (*log)->origin();
    std::printf("%s\n", boost::json::serialize(out).c_str());
  });

  Common aexport_c;
  uint64_t export_since = 1;
  auto* aexport = audit->add_subcommand("export", "write the audit log as FHIR R4 AuditEvent NDJSON on stdout (audited)");
  aexport_c.add_to(aexport);
  aexport->add_option("--since", export_since, "first sequence number (default 1)");
  aexport->callback([&] {
    std::unique_ptr<mv::vault::Vault> v;
    auto log = open_log(aexport_c, v);
    if (!log.ok()) { rc = fail(log.error()); return; }
    // Durable before the first byte leaves.
    if (auto st = (*log)->append(audit_entry("audit-export")); !st.ok()) { rc = fail(st.error()); return; }
    mv::Status inner = mv::ok_status();
    std::string buf;
    auto st = (*log)->for_each(export_since, [&](uint64_t seq, const mv::audit::Entry& e) {
      std::string detail;
      if (!e.detail.empty()) {
        auto d = (*log)->open_detail(e.detail);
        if (!d.ok()) {
          inner = mv::make_error(mv::Errc::integrity, "audit entry " + std::to_string(seq) + ": detail does not decrypt");
          return false;
        }
        detail = std::move(d).value();
      }
      buf += mv::audit::to_audit_event(seq, e, (*log)->origin(), detail);
      buf += '\n';
      if (buf.size() > (1 << 20)) {
        std::fwrite(buf.data(), 1, buf.size(), stdout);
        buf.clear();
      }
      return !std::ferror(stdout);
    });
    std::fwrite(buf.data(), 1, buf.size(), stdout);
    std::fflush(stdout);
    if (!st.ok()) { rc = fail(st.error()); return; }
    if (!inner.ok()) { rc = fail(inner.error()); return; }
  });

  // user add / list / disable
  auto* user = app.add_subcommand("user", "accounts");
  user->require_subcommand(1);
  Common user_c;
  std::string username, role;
  std::vector<std::string> scopes;
  auto* uadd = user->add_subcommand("add", "add an account");
  user_c.add_to(uadd);
  uadd->add_option("username", username, "user name")->required();
  uadd->add_option("--role", role, "physician, nurse, reception, manager, it-admin, auditor, patient, service")->required();
  uadd->add_option("--scope", scopes, "SMART system scope for service accounts, e.g. system/Patient.rs");
  medvault::vault::AccessLink access_link;
  uadd->add_option("--practitioner", access_link.practitioner, "Practitioner id the account acts as (care relationships, consent)");
  uadd->add_option("--organization", access_link.organization, "Organization id of an outside organisation's account");
  uadd->add_option("--patient", access_link.patient, "Patient id of a patient (portal) account");
  uadd->add_option("--grant", access_link.grants, "sensitivity grant: R, V, PSY, HIV, ... or * (docs/access-policy.md)");
  std::string add_expires;
  uadd->add_option("--expires", add_expires, "last day the account works (YYYY-MM-DD, UTC)");
  uadd->callback([&] {
    auto until = expiry_ms(add_expires);
    if (!until.ok()) { rc = fail(until.error()); return; }
    auto v = user_c.open();
    if (!v.ok()) { rc = fail(v.error()); return; }
    auto st = (*v)->accounts().add_user(admin_ctx(), username, role, scopes);
    if (!st.ok()) { rc = fail(st.error()); return; }
    if (*until) {
      st = (*v)->accounts().set_expiry(admin_ctx(), username, *until);
      if (!st.ok()) { rc = fail(st.error()); return; }
    }
    if (!access_link.practitioner.empty() || !access_link.organization.empty() || !access_link.patient.empty() || !access_link.grants.empty()) {
      st = (*v)->accounts().set_access(admin_ctx(), username, access_link);
      if (!st.ok()) { rc = fail(st.error()); return; }
    }
    std::printf("user %s added with role %s\n", username.c_str(), role.c_str());
  });
  auto* uenrol = user->add_subcommand("step-up-enroll", "enrol a TOTP authenticator for step-up (break-the-glass)");
  Common uenrol_c;
  std::string enrol_user;
  uenrol_c.add_to(uenrol);
  uenrol->add_option("username", enrol_user, "user name")->required();
  uenrol->callback([&] {
    auto v = uenrol_c.open();
    if (!v.ok()) { rc = fail(v.error()); return; }
    auto secret = (*v)->accounts().enroll_step_up(admin_ctx(), enrol_user);
    if (!secret.ok()) { rc = fail(secret.error()); return; }
    // The secret goes to stdout once, for the authenticator app; never to argv or logs.
    std::printf("%s\n", secret->c_str());
  });
  auto* upass = user->add_subcommand("set-password",
                                     "set an account's password (from --password-file, MEDVAULT_NEW_PASSWORD or a prompt)");
  Common upass_c;
  std::string pass_user, pass_file;
  upass_c.add_to(upass);
  upass->add_option("username", pass_user, "user name")->required();
  upass->add_option("--password-file", pass_file, "file whose first line is the new password");
  upass->callback([&] {
    auto v = upass_c.open();
    if (!v.ok()) { rc = fail(v.error()); return; }
    auto pw = mv::cli::read_passphrase(pass_file, "MEDVAULT_NEW_PASSWORD", "New password: ", true);
    if (!pw.ok()) { rc = fail(pw.error()); return; }
    auto st = (*v)->sessions()->set_password(admin_ctx(), pass_user, pw->view());
    if (!st.ok()) { rc = fail(st.error()); return; }
    std::printf("password of %s set\n", pass_user.c_str());
  });
  auto* ucert = user->add_subcommand("cert-add", "map a client certificate (mutual TLS, smart card) to an account");
  Common ucert_c;
  std::string cert_user, cert_file;
  ucert_c.add_to(ucert);
  ucert->add_option("username", cert_user, "user name")->required();
  ucert->add_option("--cert", cert_file, "the client certificate (PEM)")->required();
  ucert->callback([&] {
    auto fp = mv::http::certificate_file_sha256(cert_file);
    if (!fp.ok()) { rc = fail(fp.error()); return; }
    auto v = ucert_c.open();
    if (!v.ok()) { rc = fail(v.error()); return; }
    auto st = (*v)->sessions()->add_certificate(admin_ctx(), cert_user, *fp);
    if (!st.ok()) { rc = fail(st.error()); return; }
    std::printf("certificate %s mapped to %s\n", fp->substr(0, 16).c_str(), cert_user.c_str());
  });
  auto* ureset = user->add_subcommand("reset-factors", "forget an account's authenticator app, passkeys and recovery codes (lost device); ends its sessions");
  Common ureset_c;
  std::string reset_user;
  ureset_c.add_to(ureset);
  ureset->add_option("username", reset_user, "user name")->required();
  ureset->callback([&] {
    auto v = ureset_c.open();
    if (!v.ok()) { rc = fail(v.error()); return; }
    auto st = (*v)->sessions()->reset_factors(admin_ctx(), reset_user);
    if (!st.ok()) rc = fail(st.error());
  });
  auto* uexp = user->add_subcommand("set-expiry", "set the last day an account works (YYYY-MM-DD, UTC), or \"never\"");
  Common uexp_c;
  std::string exp_user, exp_date;
  uexp_c.add_to(uexp);
  uexp->add_option("username", exp_user, "user name")->required();
  uexp->add_option("date", exp_date, "YYYY-MM-DD or never")->required();
  uexp->callback([&] {
    auto until = expiry_ms(exp_date == "never" ? "" : exp_date);
    if (!until.ok()) { rc = fail(until.error()); return; }
    auto v = uexp_c.open();
    if (!v.ok()) { rc = fail(v.error()); return; }
    auto st = (*v)->accounts().set_expiry(admin_ctx(), exp_user, *until);
    if (!st.ok()) rc = fail(st.error());
  });
  auto* ulist = user->add_subcommand("list", "list accounts");
  Common ulist_c;
  ulist_c.add_to(ulist);
  ulist->callback([&] {
    auto v = ulist_c.open();
    if (!v.ok()) { rc = fail(v.error()); return; }
    auto users = (*v)->accounts().list_users(admin_ctx());
    if (!users.ok()) { rc = fail(users.error()); return; }
    for (const auto& u : *users) std::printf("%s\t%s%s\n", u.username.c_str(), u.role.c_str(), u.disabled ? "\tdisabled" : "");
  });
  auto* udis = user->add_subcommand("disable", "disable an account and revoke its tokens");
  Common udis_c;
  std::string dis_user;
  udis_c.add_to(udis);
  udis->add_option("username", dis_user, "user name")->required();
  udis->callback([&] {
    auto v = udis_c.open();
    if (!v.ok()) { rc = fail(v.error()); return; }
    auto st = (*v)->accounts().set_disabled(admin_ctx(), dis_user, true);
    if (!st.ok()) rc = fail(st.error());
  });

  // token issue / revoke
  auto* token = app.add_subcommand("token", "API bearer tokens");
  token->require_subcommand(1);
  Common tissue_c;
  std::string tuser, ttl = "8h";
  auto* tissue = token->add_subcommand("issue", "issue a token (printed once; stored only as a hash)");
  tissue_c.add_to(tissue);
  tissue->add_option("--user", tuser, "account")->required();
  tissue->add_option("--ttl", ttl, "lifetime, e.g. 30m, 8h, 90d (default 8h)");
  tissue->callback([&] {
    auto ms = parse_duration_ms(ttl);
    if (!ms.ok()) { rc = fail(ms.error()); return; }
    auto v = tissue_c.open();
    if (!v.ok()) { rc = fail(v.error()); return; }
    auto t = (*v)->accounts().issue_token(admin_ctx(), tuser, *ms);
    if (!t.ok()) { rc = fail(t.error()); return; }
    std::printf("%s\n", t->token.c_str());
    std::fprintf(stderr, "token id %s for %s\n", t->token_id.c_str(), tuser.c_str());
  });
  Common trevoke_c;
  std::string tid, revoke_user;
  auto* trevoke = token->add_subcommand("revoke", "revoke a token by id, or every token of a user");
  trevoke_c.add_to(trevoke);
  trevoke->add_option("--id", tid, "token id");
  trevoke->add_option("--user", revoke_user, "revoke every token of this user");
  trevoke->callback([&] {
    auto v = trevoke_c.open();
    if (!v.ok()) { rc = fail(v.error()); return; }
    mv::Status st = !tid.empty() ? (*v)->accounts().revoke_token(admin_ctx(), tid)
                  : !revoke_user.empty() ? (*v)->accounts().revoke_all(admin_ctx(), revoke_user)
                  : mv::Status(mv::make_error(mv::Errc::invalid, "give --id or --user"));
    if (!st.ok()) rc = fail(st.error());
  });

  // demo-data
  mv::demo::Options demo_opts;
  auto* demo = app.add_subcommand("demo-data", "write deterministic synthetic patients as FHIR NDJSON on stdout");
  demo->add_option("--patients", demo_opts.patients, "number of patients")->required();
  demo->add_option("--seed", demo_opts.seed, "random seed");
  demo->callback([&] {
    if (auto st = mv::demo::validate_options(demo_opts); !st.ok()) { rc = fail(st.error()); return; }
    std::string buf;
    buf.reserve(1 << 20);
    mv::demo::generate(demo_opts, [&](std::string_view json) {
      buf.append(json);
      buf.push_back('\n');
      if (buf.size() > (1 << 20)) {
        std::fwrite(buf.data(), 1, buf.size(), stdout);
        buf.clear();
      }
    });
    std::fwrite(buf.data(), 1, buf.size(), stdout);
  });

  mv::cli::add_backup_commands(app, rc);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "medvault: %s\n", e.what());
    return 2;
  }
  return rc;
}
