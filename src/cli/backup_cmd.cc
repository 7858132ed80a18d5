#include "cli/backup_cmd.h"

#include <malloc.h>
#include <sodium.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>

#include "backup/backup.h"
#include "cli/secrets.h"
#include "common/file.h"

namespace medvault::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int fail(const Error& e) {
  std::fprintf(stderr, "medvault: %s\n", e.message.c_str());
  return error_info(e.code).exit_code;
}

vault::RequestContext admin() {
  vault::RequestContext ctx;
  ctx.subject.user = "system";
  ctx.subject.role = "system";
  ctx.purpose = "HOPERAT";
  ctx.address = "cli";
  return ctx;
}

std::string mib(uint64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1 << 20));
  return buf;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Bytes, rate and time left on stderr, when it is a terminal.
backup::Progress progress_meter(Clock::time_point t0) {
  if (!::isatty(2)) return nullptr;
  return [t0, last = Clock::time_point()](uint64_t done, uint64_t total) mutable {
    auto now = Clock::now();
    if (now - last < std::chrono::milliseconds(200) && done < total) return;
    last = now;
    double s = std::max(1e-3, seconds_since(t0));
    double rate = done / s;
    std::string left = total > done && rate > 0 ? std::to_string(static_cast<long>((total - done) / rate)) + "s left" : "";
    std::fprintf(stderr, "\r%s / %s  %s/s  %s   ", mib(done).c_str(), mib(total).c_str(),
                 mib(static_cast<uint64_t>(rate)).c_str(), left.c_str());
    if (done >= total) std::fputc('\n', stderr);
  };
}

Result<std::vector<std::string>> read_shares(const std::vector<std::string>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) {
    MV_ASSIGN(auto t, read_file(f, 4096));
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::unique_ptr<vault::Vault>> open_vault(const std::string& dir, const SecretSources& s) {
  MV_ASSIGN(auto how, unsealer_from(s));
  return vault::Vault::open(dir, how);
}

Status audit_event(vault::Vault& v, const char* action, const std::string& detail, bool ok) {
  audit::Log* log = v.audit_log();
  if (log == nullptr) return ok_status();
  audit::Entry e;
  e.time_ms = SystemClock::instance().now_ms();
  e.user = "system";
  e.role = "system";
  e.action = action;
  e.purpose = "HOPERAT";
  e.address = "cli";
  e.outcome = ok ? "0" : "8";
  e.detail = detail;
  return log->append(std::move(e));
}

// Opens a restored vault with the shares and checks that its audit log has
// the size and root the manifest recorded. `full`: the whole vault check
// (engine integrity_check, audit chain, every record decrypts: Vault::verify),
// as drill and `medvault check` do; otherwise the audit chain only, since
// restore_backup authenticated every byte (chunk AEAD) and runs SQLite's
// quick_check beside this (RestoreOptions::check). The vault is kept open in
// *keep, for the caller to audit the restore once every check passed.
Status check_restored(const fs::path& dir, const std::vector<std::string>& shares, const backup::Manifest& m,
                      std::unique_ptr<vault::Vault>* keep, bool full) {
  vault::Unsealer how;
  how.shares = shares;
  MV_ASSIGN(auto v, vault::Vault::open(dir, how));
  if (full) {
    MV_TRY(v->verify());
  } else if (v->audit_log()) {
    MV_ASSIGN(auto rep, v->audit_log()->verify());
    (void)rep;
  }
  if (m.audit_size > 0 && !m.audit_root.empty() && v->audit_log()) {
    MV_ASSIGN(auto proof, v->audit_log()->prove_inclusion(m.audit_size, m.audit_size));
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, proof.root.data(), proof.root.size());
    if (m.audit_root != hex)
      return make_error(Errc::integrity, "the restored audit log's root at " + std::to_string(m.audit_size) +
                                             " entries differs from the one the backup recorded");
  }
  *keep = std::move(v);
  return ok_status();
}

// Restores with the vault check beside quick_check, then audits `action` in
// the restored vault, which it returns open.
Result<std::pair<backup::Manifest, std::unique_ptr<vault::Vault>>> restore_checked(
    backup::Target& target, const fs::path& dir, backup::RestoreOptions o, const char* action, bool full) {
  std::unique_ptr<vault::Vault> v;
  const auto shares = o.shares;
  o.check = [&](const fs::path& d, const backup::Manifest& m) { return check_restored(d, shares, m, &v, full); };
  MV_ASSIGN(auto m, backup::restore_backup(target, dir, o));
  if (!v) return make_error(Errc::internal, "the restored vault was not checked");
  MV_TRY(audit_event(*v, action, "from backup " + std::to_string(m.seq) + " of vault " + m.vault_id, true));
  return std::make_pair(std::move(m), std::move(v));
}

struct TargetArgs {
  std::string spec;
  backup::SftpOptions sftp;
  void add_to(CLI::App* c, const char* name) {
    c->add_option(name, spec, "backup target: a directory or sftp://user@host[:port]/path")->required();
    c->add_option("--ssh-key", sftp.identity_file, "SFTP: private key file");
    c->add_option("--known-hosts", sftp.known_hosts, "SFTP: known_hosts file holding the server's key");
  }
  Result<std::unique_ptr<backup::Target>> open(bool create) const { return backup::open_target(spec, sftp, create); }
};

std::string when(int64_t ms) { return format_instant(ms); }

// A restore allocates a few buffers of up to a chunk's size per chunk, on
// worker threads. glibc maps and unmaps each one (or trims the heap after
// it), so every chunk's pages fault in again: a fifth of a restore's CPU.
// This process only restores, so it keeps them on the heap for reuse.
void keep_chunk_buffers() {
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);   // glibc's maximum; chunks are at most 16 MiB
  ::mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

}  // namespace

void add_schedule_options(CLI::App& serve, backup::ScheduleOptions& o) {
  // Durations: 90s, 30m, 24h, 7d, or plain seconds.
  const auto unit = CLI::AsNumberWithUnit(std::map<std::string, int64_t>{{"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}},
                                          CLI::AsNumberWithUnit::CASE_SENSITIVE);
  auto* to = serve.add_option("--backup-to", o.target,
                              "back up to this target (a directory or sftp://user@host[:port]/path) on a schedule");
  serve.add_option("--backup-every", o.every_s, "scheduled backups: interval (default 24h)")->transform(unit)->needs(to);
  serve.add_option("--backup-rpo", o.rpo_s,
                   "scheduled backups: flag an audit entry when the newest good backup is older (default 26h)")
      ->transform(unit)
      ->needs(to);
  serve.add_option("--backup-keep-daily", o.keep.daily, "scheduled backups: keep the newest of the last N days (7)")->needs(to);
  serve.add_option("--backup-keep-weekly", o.keep.weekly, "... of the last N weeks (4)")->needs(to);
  serve.add_option("--backup-keep-monthly", o.keep.monthly, "... of the last N months (12)")->needs(to);
  serve.add_option("--ssh-key", o.sftp.identity_file, "scheduled SFTP backups: private key file")->needs(to);
  serve.add_option("--known-hosts", o.sftp.known_hosts, "scheduled SFTP backups: known_hosts file")->needs(to);
}

void add_backup_commands(CLI::App& app, int& rc) {
  auto* b = app.add_subcommand("backup", "encrypted off-site backups (docs/formats/backup.md)");
  b->require_subcommand(1);

  // create
  static std::string c_data;
  static SecretSources c_sec;
  static TargetArgs c_t;
  auto* create = b->add_subcommand("create", "back up the vault (while the server runs) to a target");
  create->add_option("--data", c_data, "vault directory")->required();
  create->add_option("--passphrase-file", c_sec.passphrase_file, "read the passphrase from this file");
  create->add_option("--key-file", c_sec.key_file, "unseal with this key file");
  c_t.add_to(create, "--to");
  create->callback([&rc] {
    auto t0 = Clock::now();
    auto v = open_vault(c_data, c_sec);
    if (!v.ok()) { rc = fail(v.error()); return; }
    auto target = c_t.open(true);
    if (!target.ok()) { rc = fail(target.error()); return; }
    backup::CreateOptions o;
    o.progress = progress_meter(t0);
    auto r = backup::create_backup(**v, **target, o);
    if (!r.ok()) {
      (void)audit_event(**v, "backup-create", "to " + (*target)->describe() + " failed", false);
      rc = fail(r.error());
      return;
    }
    std::printf("backup %llu to %s: %s, new data %s (%s stored), deduplicated %s, %llu of %llu chunks new, "
                "elapsed %.2fs\n",
                static_cast<unsigned long long>(r->seq), (*target)->describe().c_str(), mib(r->bytes).c_str(),
                mib(r->new_bytes).c_str(), mib(r->new_stored).c_str(), mib(r->bytes - r->new_bytes).c_str(),
                static_cast<unsigned long long>(r->new_chunks), static_cast<unsigned long long>(r->chunks),
                seconds_since(t0));
  });

  // verify
  static TargetArgs v_t;
  static std::vector<std::string> v_shares;
  static std::string v_data;
  static SecretSources v_sec;
  auto* verify = b->add_subcommand(
      "verify", "check manifests, signatures, chain and every chunk; with --share, decrypt every chunk too");
  v_t.add_to(verify, "--from");
  verify->add_option("--share", v_shares, "recovery share files (k of them): full decryption");
  verify->add_option("--data", v_data, "the vault: also check the last manifest it wrote is there (audited)");
  verify->add_option("--passphrase-file", v_sec.passphrase_file, "with --data: the passphrase file");
  verify->callback([&rc] {
    auto t0 = Clock::now();
    auto target = v_t.open(false);
    if (!target.ok()) { rc = fail(target.error()); return; }
    backup::VerifyOptions o;
    auto shares = read_shares(v_shares);
    if (!shares.ok()) { rc = fail(shares.error()); return; }
    o.shares = std::move(shares).value();
    o.progress = progress_meter(t0);
    std::unique_ptr<vault::Vault> v;
    if (!v_data.empty()) {
      auto opened = open_vault(v_data, v_sec);
      if (!opened.ok()) { rc = fail(opened.error()); return; }
      v = std::move(opened).value();
      auto rec = v->backup_record();
      if (!rec.ok()) { rc = fail(rec.error()); return; }
      o.last_written = *rec;
    }
    auto r = backup::verify_backup(**target, o);
    if (v) (void)audit_event(*v, "backup-verify", (*target)->describe(), r.ok());
    if (!r.ok()) { rc = fail(r.error()); return; }
    std::printf("backup %s: ok, %llu manifests (newest %llu), %llu chunks, %s%s, elapsed %.2fs\n",
                (*target)->describe().c_str(), static_cast<unsigned long long>(r->manifests),
                static_cast<unsigned long long>(r->newest), static_cast<unsigned long long>(r->chunks),
                mib(r->bytes).c_str(), r->decrypted ? ", every chunk decrypted" : " (signatures and hashes; no decryption without --share)",
                seconds_since(t0));
  });

  // list
  static TargetArgs l_t;
  auto* list = b->add_subcommand("list", "list the backups in a target");
  l_t.add_to(list, "--from");
  list->callback([&rc] {
    auto target = l_t.open(false);
    if (!target.ok()) { rc = fail(target.error()); return; }
    auto l = backup::list_backups(**target);
    if (!l.ok()) { rc = fail(l.error()); return; }
    for (const auto& i : *l) {
      if (!i.valid) {
        std::printf("%llu  INVALID\n", static_cast<unsigned long long>(i.seq));
        continue;
      }
      std::printf("%llu  %s  vault %s  %s  new %s  audit %llu\n", static_cast<unsigned long long>(i.seq),
                  when(i.created_ms).c_str(), i.vault_id.c_str(), mib(i.bytes).c_str(), mib(i.new_stored).c_str(),
                  static_cast<unsigned long long>(i.audit_size));
    }
  });

  // restore
  static TargetArgs r_t;
  static std::vector<std::string> r_shares;
  static std::string r_data;
  static uint64_t r_seq = 0;
  auto* restore = b->add_subcommand(
      "restore",
      "rebuild a vault from a backup with k recovery shares; checks every chunk (hash, decryption), SQLite's "
      "quick_check and the audit chain against the backup's root (the full record check: medvault check, or "
      "backup drill)");
  r_t.add_to(restore, "--from");
  restore->add_option("--data", r_data, "new vault directory (must not exist or be empty)")->required();
  restore->add_option("--share", r_shares, "recovery share files (k of them)")->required();
  restore->add_option("--backup", r_seq, "which backup (default: the newest)");
  restore->callback([&rc] {
    keep_chunk_buffers();
    auto t0 = Clock::now();
    auto target = r_t.open(false);
    if (!target.ok()) { rc = fail(target.error()); return; }
    auto shares = read_shares(r_shares);
    if (!shares.ok()) { rc = fail(shares.error()); return; }
    backup::RestoreOptions o;
    o.shares = *shares;
    o.seq = r_seq;
    o.progress = progress_meter(t0);
    auto restored = restore_checked(**target, r_data, o, "backup-restore", false);
    if (!restored.ok()) { rc = fail(restored.error()); return; }
    const backup::Manifest* m = &restored->first;
    std::printf("restored backup %llu (%s) into %s; chunks authenticated, store and audit chain checked, audit log "
                "of %llu entries matches (full record check: medvault check); elapsed %.2fs\n",
                static_cast<unsigned long long>(m->seq), when(m->created_ms).c_str(), r_data.c_str(),
                static_cast<unsigned long long>(m->audit_size), seconds_since(t0));
  });

  // drill
  static TargetArgs d_t;
  static std::vector<std::string> d_shares;
  auto* drill = b->add_subcommand("drill", "restore into a scratch directory, check it, report the recovery time");
  d_t.add_to(drill, "--from");
  drill->add_option("--share", d_shares, "recovery share files (k of them)")->required();
  drill->callback([&rc] {
    keep_chunk_buffers();
    auto t0 = Clock::now();
    auto target = d_t.open(false);
    if (!target.ok()) { rc = fail(target.error()); return; }
    auto shares = read_shares(d_shares);
    if (!shares.ok()) { rc = fail(shares.error()); return; }
    std::string tmpl = (fs::temp_directory_path() / "medvault-drill-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) { rc = fail(make_error(Errc::io, "cannot create a scratch directory")); return; }
    const fs::path scratch = tmpl;
    backup::RestoreOptions o;
    o.shares = *shares;
    o.progress = progress_meter(t0);
    auto restored = restore_checked(**target, scratch, o, "backup-drill", true);
    Status st = restored.ok() ? ok_status() : Status(restored.error());
    uint64_t resources = 0;
    const backup::Manifest* m = nullptr;
    if (st.ok()) {
      m = &restored->first;
      auto s = restored->second->status();
      if (s.ok()) resources = s->resources;
      else st = s.error();
      restored->second.reset();
    }
    std::error_code ec;
    fs::remove_all(scratch, ec);
    if (!st.ok()) { rc = fail(st.error()); return; }
    std::printf("drill ok: backup %llu (%s) restored and verified, %llu resources; recovery time %.2fs\n",
                static_cast<unsigned long long>(m->seq), when(m->created_ms).c_str(),
                static_cast<unsigned long long>(resources), seconds_since(t0));
  });

  // prune
  static std::string p_data;
  static SecretSources p_sec;
  static TargetArgs p_t;
  static backup::Retention keep;
  auto* prune = b->add_subcommand("prune", "apply the retention policy; remove chunks no kept backup uses");
  prune->add_option("--data", p_data, "vault directory (signs the prune records)")->required();
  prune->add_option("--passphrase-file", p_sec.passphrase_file, "read the passphrase from this file");
  p_t.add_to(prune, "--from");
  prune->add_option("--keep-daily", keep.daily, "newest backup of each of the last N days");
  prune->add_option("--keep-weekly", keep.weekly, "newest backup of each of the last N weeks");
  prune->add_option("--keep-monthly", keep.monthly, "newest backup of each of the last N months");
  prune->callback([&rc] {
    auto v = open_vault(p_data, p_sec);
    if (!v.ok()) { rc = fail(v.error()); return; }
    auto target = p_t.open(false);
    if (!target.ok()) { rc = fail(target.error()); return; }
    auto r = backup::prune_backups(**v, **target, keep);
    (void)audit_event(**v, "backup-prune", (*target)->describe(), r.ok());
    if (!r.ok()) { rc = fail(r.error()); return; }
    std::printf("pruned %zu backups, kept %llu; removed %llu chunks\n", r->removed_manifests.size(),
                static_cast<unsigned long long>(r->kept_manifests), static_cast<unsigned long long>(r->removed_chunks));
  });

  // kit create
  static std::string k_data, k_dir;
  static SecretSources k_sec;
  static int k_n = 0, k_k = 0;
  auto* kit = app.add_subcommand("kit", "the recovery kit");
  kit->require_subcommand(1);
  auto* kc = kit->add_subcommand("create", "make a new k-of-n recovery kit (the old shares stop working)");
  kc->add_option("--data", k_data, "vault directory")->required();
  kc->add_option("--passphrase-file", k_sec.passphrase_file, "read the passphrase from this file");
  kc->add_option("--key-file", k_sec.key_file, "unseal with this key file");
  kc->add_option("--shares", k_n, "N shares")->required();
  kc->add_option("--threshold", k_k, "K shares unseal")->required();
  kc->add_option("--kit", k_dir, "directory for the share files and the instructions")->required();
  kc->callback([&rc] {
    auto v = open_vault(k_data, k_sec);
    if (!v.ok()) { rc = fail(v.error()); return; }
    auto st = (*v)->create_recovery_kit(admin(), k_n, k_k, k_dir);
    if (!st.ok()) { rc = fail(st.error()); return; }
    std::printf("recovery kit: %d shares, any %d unseal; written to %s\n", k_n, k_k, k_dir.c_str());
  });
}

}  // namespace medvault::cli
