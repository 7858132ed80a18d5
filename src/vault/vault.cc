#include "vault/vault.h"

#include <cstdlib>
#include <sodium.h>
#include <sys/stat.h>

#include <system_error>

#include "common/file.h"
#include "crypto/aead.h"
#include "crypto/kdf.h"
#include "store/postgres_schema.h"
#include "store/sqlite_schema.h"
#include "vault/core.h"
#include "vault/kit_page.h"

namespace medvault::vault {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSealFile = "master.seal";
constexpr const char* kDbFile = "vault.db";
constexpr const char* kSealMeta = "master_seal";  // PostgreSQL vaults keep the seal in the store

std::string new_vault_id() {
  unsigned char b[12];
  randombytes_buf(b, sizeof b);
  std::string out(sizeof b * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), b, sizeof b);
  out.pop_back();
  return out;
}

// The printable recovery-kit document written next to the share files.
std::string kit_document(const std::string& vault_id, int n, int k) {
  std::string s;
  s += "MEDVAULT RECOVERY KIT / KIT DE RECUPERATION MEDVAULT\n";
  s += "Vault / Coffre : " + vault_id + "\n\n";
  s += "EN: This vault's master key is split into " + std::to_string(n) +
       " shares. Any " + std::to_string(k) +
       " of them unseal it; fewer reveal nothing. Give each share file to a different custodian "
       "(physician, practice manager, notary...). Keep them apart, offline, and never together "
       "with a backup medium. To recover: gather " + std::to_string(k) +
       " custodians, copy their share files to the recovery machine and run\n"
       "    medvault backup restore --from TARGET --data NEWDIR --share FILE ...\n"
       "or, for this vault directly, any medvault command with --share FILE (repeated).\n\n";
  s += "FR : La cle maitresse de ce coffre est partagee en " + std::to_string(n) +
       " parts. " + std::to_string(k) +
       " parts quelconques suffisent a l'ouvrir ; moins ne revelent rien. Confiez chaque fichier "
       "de part a un depositaire different (medecin, gestionnaire, notaire...). Conservez-les "
       "separement, hors ligne, jamais avec un support de sauvegarde. Pour restaurer : reunissez " +
       std::to_string(k) + " depositaires et lancez la commande ci-dessus avec --share FICHIER.\n";
  return s;
}

Status write_kit(const fs::path& kit_dir, const std::string& vault_id,
                 const std::vector<crypto::ShareFile>& shares, int n, int k) {
  std::error_code ec;
  fs::create_directories(kit_dir, ec);
  if (ec) return make_error(Errc::io, "cannot create " + kit_dir.string() + ": " + ec.message());
  ::chmod(kit_dir.c_str(), 0700);
  for (const auto& s : shares) {
    MV_TRY(write_file_atomic(kit_dir / ("share-" + std::to_string(s.number) + ".txt"), s.text + "\n"));
    MV_ASSIGN(auto page, kit_share_page(vault_id, s.number, n, k, s.text));
    MV_TRY(write_file_atomic(kit_dir / ("share-" + std::to_string(s.number) + ".html"), page, 0600));
  }
  return write_file_atomic(kit_dir / "RECOVERY-KIT.txt", kit_document(vault_id, n, k), 0600);
}

class VaultImpl final : public Vault {
 public:
  VaultImpl(fs::path dir, std::string url, crypto::KeySeal seal, crypto::SecretKey master,
            std::unique_ptr<Core> core)
      : dir_(std::move(dir)), url_(std::move(url)), seal_(std::move(seal)),
        master_(std::move(master)), core_(std::move(core)) {
    repo_ = make_repository(*core_);
    accounts_ = make_accounts(*core_);
    sessions_ = make_sessions(*core_);
    core_->sessions = sessions_.get();
  }

  const fs::path& dir() const override { return dir_; }
  Repository& repository() override { return *repo_; }
  Accounts& accounts() override { return *accounts_; }
  Sessions* sessions() override { return sessions_.get(); }
  Result<std::vector<AuditRecord>> audit_query(const RequestContext& ctx, const AuditQuery& q) override {
    return query_audit(*core_, ctx, q);
  }
  audit::Log* audit_log() override { return core_->audit.get(); }
  std::unique_ptr<store::ReadScope> read_scope() override { return core_->store->read_scope(); }
  Result<std::unique_ptr<audit::SyslogForwarder>> forward_audit_to_syslog(
      audit::SyslogOptions opts) override {
    return audit::SyslogForwarder::start(*core_->audit, *core_->store, std::move(opts));
  }

  Status rotate_kek(const RequestContext& ctx) override {
    if (ctx.subject.role != "system") return make_error(Errc::forbidden, "only the administrator rotates keys");
    MV_ASSIGN(auto txn, core_->store->begin());
    const int64_t now = core_->clock->now_ms();
    auto rotated = core_->keys->rotate(*txn, now);
    if (!rotated.ok()) {
      core_->keys->finish_rotation(false);
      return rotated.take_error();
    }
    auto e = core_->entry(ctx, "key-rotate");
    e.detail = "key-encryption key version " + std::to_string(*rotated);
    Status st = core_->audit->add(*txn, {std::move(e)});
    if (st.ok()) st = txn->commit();
    core_->audit->after_commit(st.ok());
    core_->keys->finish_rotation(st.ok());
    txn.reset();
    MV_TRY(st);
    // The retired KEK's page was zeroed by secure_delete; truncating the WAL
    // removes the copy the log still held.
    return core_->store->compact();
  }

  Status change_passphrase(const RequestContext& ctx, const crypto::SecretString& pass,
                           const crypto::Argon2Params& params) override {
    if (ctx.subject.role != "system") return make_error(Errc::forbidden, "only the administrator changes the passphrase");
    seal_.set_passphrase(master_, pass.view(), params);
    auto e = core_->entry(ctx, "passphrase-change");
    MV_TRY(core_->audit->append(std::move(e)));
    return save_seal();
  }

  Result<VaultStatus> status() override {
    VaultStatus s;
    s.vault_id = core_->vault_id;
    s.store_kind = url_.empty() ? "sqlite" : "postgresql";
    s.kek_version = core_->keys->kek_version();
    MV_ASSIGN(auto deks, core_->store->deks());
    s.data_keys = deks.size();
    MV_ASSIGN(s.resources, core_->store->count_current(""));
    MV_ASSIGN(s.audit_entries, core_->store->audit_size());
    s.schema_version = url_.empty() ? store::sqlite_schema_version() : store::postgres_schema_version();
    s.keys_locked_in_memory = crypto::key_pool_locked();
    s.has_passphrase = seal_.has_passphrase();
    s.has_keyfile = seal_.has_keyfile();
    s.recovery_threshold = seal_.recovery_threshold();
    s.recovery_shares = seal_.recovery_shares();
    return s;
  }

  Status verify() override {
    MV_TRY(core_->store->integrity_check());
    MV_ASSIGN(auto rep, core_->audit->verify());
    (void)rep;
    // Every current record must decrypt: a torn or altered write shows here.
    Status inner = ok_status();
    MV_TRY(core_->store->for_each_current([&](const store::VersionRow& row) {
      auto key = core_->keys->dek(row.key_id);
      bool ok = key.ok() && crypto::open(**key, crypto::record_ad(row.type, row.id, row.version, row.key_id),
                                         row.body).ok();
      if (!ok) {
        inner = make_error(Errc::integrity, row.type + "/" + row.id + " version " +
                                                std::to_string(row.version) + ": integrity check failed");
        return false;
      }
      return true;
    }));
    return inner;
  }

  Result<BackupKeys> backup_keys() override {
    std::string pk = seal_.recovery_public_key();
    if (pk.empty())
      return make_error(Errc::invalid,
                        seal_.has_recovery()
                            ? "this vault's recovery kit predates backups; make a new one first: "
                              "medvault kit create --data DIR --shares N --threshold K --kit KITDIR"
                            : "this vault has no recovery kit, and backups are encrypted to it; make one first: "
                              "medvault kit create --data DIR --shares N --threshold K --kit KITDIR");
    return BackupKeys{crypto::derive(master_, crypto::SubKey::backup_signing),
                      crypto::derive(master_, crypto::SubKey::backup_dedup), std::move(pk)};
  }

  Result<VaultSnapshot> snapshot(const RequestContext& ctx, const store::Store::SnapshotSink& sink) override {
    if (ctx.subject.role != "system") return make_error(Errc::forbidden, "only the administrator takes backups");
    VaultSnapshot snap;
    MV_ASSIGN(snap.seal, read_file(dir_ / kSealFile, 1 << 20));
    MV_ASSIGN(auto info, core_->store->snapshot(sink));
    snap.audit_size = info.audit_entries;
    snap.files = std::move(info.files);
    // Appending catches this process's log up with entries the server wrote
    // meanwhile, so the root at the copy's size is then known.
    auto e = core_->entry(ctx, "backup-create");
    e.detail = "snapshot of " + std::to_string(snap.audit_size) + " audit entries";
    MV_TRY(core_->audit->append(std::move(e)));
    if (snap.audit_size > 0) {
      auto proof = core_->audit->prove_inclusion(snap.audit_size, snap.audit_size);
      if (proof.ok()) {
        char hex[65];
        sodium_bin2hex(hex, sizeof hex, proof->root.data(), proof->root.size());
        snap.audit_root = hex;
      }
    }
    return snap;
  }

  Result<std::optional<std::string>> backup_record() override { return core_->store->meta("backup_last_manifest"); }

  Status set_backup_record(const std::string& record) override {
    MV_ASSIGN(auto txn, core_->store->begin());
    MV_TRY(txn->put_meta("backup_last_manifest", record));
    return txn->commit();
  }

  Status create_recovery_kit(const RequestContext& ctx, int n, int k, const fs::path& kit_dir) override {
    if (ctx.subject.role != "system") return make_error(Errc::forbidden, "only the administrator makes a recovery kit");
    if (k < 2 || k > n || n > 255) return make_error(Errc::invalid, "shares need 2 <= threshold <= shares <= 255");
    if (kit_dir.empty()) return make_error(Errc::invalid, "a recovery kit needs --kit DIR to write it to");
    auto shares = seal_.set_recovery(master_, n, k);
    MV_TRY(write_kit(kit_dir, core_->vault_id, shares, n, k));
    auto e = core_->entry(ctx, "recovery-kit-create");
    e.detail = "recovery " + std::to_string(k) + " of " + std::to_string(n);
    MV_TRY(core_->audit->append(std::move(e)));
    return save_seal();
  }

  Core& core() { return *core_; }
  Result<std::string> seal_text() const { return seal_.serialize(); }

 private:
  // SQLite: DIR/master.seal. PostgreSQL: the store's meta row, written under
  // the writer lock, so that every node reads the seal it was last given.
  Status save_seal() {
    if (url_.empty()) return seal_.save(dir_ / kSealFile);
    MV_ASSIGN(auto text, seal_.serialize());
    MV_ASSIGN(auto txn, core_->store->begin());
    MV_TRY(txn->put_meta(kSealMeta, text));
    return txn->commit();
  }

  fs::path dir_;
  std::string url_;  // PostgreSQL store, or "" for the SQLite vault in dir_
  crypto::KeySeal seal_;
  crypto::SecretKey master_;
  std::unique_ptr<Core> core_;
  std::unique_ptr<Repository> repo_;
  std::unique_ptr<Accounts> accounts_;
  std::unique_ptr<Sessions> sessions_;
};

audit::LogKeys audit_keys(const crypto::SecretKey& master) {
  return {crypto::derive(master, crypto::SubKey::audit_mac),
          crypto::derive(master, crypto::SubKey::audit_detail),
          crypto::derive(master, crypto::SubKey::audit_signing)};
}

audit::LogOptions audit_options(const std::string& vault_id, const Clock& clock) {
  audit::LogOptions o;
  o.origin = "medvault.local/" + vault_id;
  o.clock = &clock;
  return o;
}

Result<std::unique_ptr<Core>> make_core(std::unique_ptr<store::Store> store, const std::string& vault_id,
                                        const crypto::SecretKey& master, const Clock& clock) {
  auto core = std::make_unique<Core>();
  core->vault_id = vault_id;
  core->clock = &clock;
  core->store = std::move(store);
  MV_ASSIGN(auto stored_id, core->store->meta("vault_id"));
  if (!stored_id) return make_error(Errc::integrity, "the store is incomplete (no vault id)");
  if (*stored_id != vault_id)
    return make_error(Errc::sealed, "the seal belongs to vault " + vault_id + ", the store to vault " + *stored_id);
  MV_ASSIGN(core->keys, KeyManager::open(*core->store, vault_id, crypto::derive(master, crypto::SubKey::kek_wrap)));
  MV_ASSIGN(core->audit, audit::Log::open(*core->store, audit_keys(master), audit_options(vault_id, clock)));
  // Per-practice setting (docs/access-policy.md): may a patient's refusal
  // block break-the-glass? Every node of a practice must start with the same value.
  access::Settings policy_settings;
  if (const char* v = std::getenv("MEDVAULT_CONSENT_BLOCKS_EMERGENCY"))
    policy_settings.consent_blocks_emergency = std::string_view(v) == "1" || std::string_view(v) == "true";
  core->policy = access::make_policy(policy_settings);
  core->indexer = std::make_unique<crypto::BlindIndexer>(crypto::derive(master, crypto::SubKey::blind_index));
  core->session_key = crypto::derive(master, crypto::SubKey::session);
  return core;
}

Result<crypto::SecretKey> unseal(const crypto::KeySeal& seal, const Unsealer& how) {
  if (how.passphrase) return seal.unseal_passphrase(how.passphrase->view());
  if (how.keyfile)
    return seal.unseal_keyfile({reinterpret_cast<const uint8_t*>(how.keyfile->data()), how.keyfile->size()});
  if (!how.shares.empty()) return seal.unseal_shares(how.shares);
  return make_error(Errc::sealed, "no passphrase, key file or shares given");
}

// The seal of a PostgreSQL vault, from its store.
Result<crypto::KeySeal> stored_seal(store::Store& st) {
  MV_ASSIGN(auto text, st.meta(kSealMeta));
  if (!text) {
    MV_ASSIGN(auto id, st.meta("vault_id"));
    if (id) return make_error(Errc::sealed, "the database holds an incomplete vault (no seal)");
    return make_error(Errc::not_found, "no vault in this database (run medvault init --store ...)");
  }
  return crypto::KeySeal::parse(*text, "in the database");
}

}  // namespace

Status Vault::init(const InitOptions& o) {
  if (!crypto::init()) return make_error(Errc::internal, "libsodium cannot be initialised");
  if (!o.passphrase && !o.keyfile && o.shares == 0)
    return make_error(Errc::invalid, "a vault needs a passphrase, a key file or recovery shares");
  if (o.shares != 0 && (o.threshold < 2 || o.threshold > o.shares || o.shares > 255))
    return make_error(Errc::invalid, "shares need 2 <= threshold <= shares <= 255");
  if (o.shares != 0 && o.kit_dir.empty())
    return make_error(Errc::invalid, "recovery shares need --kit DIR to write them to");
  const bool pg = !o.store_url.empty();
  std::error_code ec;
  if (!pg && (fs::exists(o.dir / kSealFile, ec) || fs::exists(o.dir / kDbFile, ec)))
    return make_error(Errc::conflict, o.dir.string() + " already holds a vault");
  std::unique_ptr<store::Store> store;
  if (pg) {
    MV_ASSIGN(store, store::open_postgres(o.store_url));
    MV_ASSIGN(auto id, store->meta("vault_id"));
    if (id) return make_error(Errc::conflict, "the database already holds a vault");
  }
  if (!o.dir.empty()) {
    fs::create_directories(o.dir, ec);
    if (ec) return make_error(Errc::io, "cannot create " + o.dir.string() + ": " + ec.message());
    ::chmod(o.dir.c_str(), 0700);
  }

  const std::string vault_id = new_vault_id();
  auto master = crypto::SecretKey::random();
  crypto::KeySeal seal(vault_id);
  if (o.passphrase) seal.set_passphrase(master, o.passphrase->view(), o.argon2);
  if (o.keyfile)
    seal.set_keyfile(master, {reinterpret_cast<const uint8_t*>(o.keyfile->data()), o.keyfile->size()});
  std::vector<crypto::ShareFile> shares;
  if (o.shares) shares = seal.set_recovery(master, o.shares, o.threshold);

  {
    if (!pg) {
      MV_ASSIGN(store, store::open_sqlite(o.dir / kDbFile));
    }
    MV_ASSIGN(auto txn, store->begin());
    // PostgreSQL: the seal commits with the vault (no file to write last).
    if (pg) {
      MV_ASSIGN(auto text, seal.serialize());
      MV_TRY(txn->put_meta(kSealMeta, text));
    }
    const int64_t now = SystemClock::instance().now_ms();
    MV_TRY(txn->put_meta("vault_id", vault_id));
    MV_TRY(txn->put_meta("created", format_instant(now)));
    MV_TRY(KeyManager::create_first_kek(*txn, vault_id, crypto::derive(master, crypto::SubKey::kek_wrap), now));
    // The creation is the log's first entry.
    MV_ASSIGN(auto log, audit::Log::open(*store, audit_keys(master),
                                         audit_options(vault_id, SystemClock::instance())));
    audit::Entry e;
    e.time_ms = now;
    e.user = "system";
    e.role = "system";
    e.action = "vault-init";
    e.address = "cli";
    e.outcome = "0";
    e.detail = "vault " + vault_id + (o.shares ? ", recovery " + std::to_string(o.threshold) + " of " +
                                                     std::to_string(o.shares) : "");
    MV_TRY(log->add(*txn, {std::move(e)}));
    MV_TRY(txn->commit());
  }
  if (!shares.empty()) MV_TRY(write_kit(o.kit_dir, vault_id, shares, o.shares, o.threshold));
  // The seal last: a directory without it is an incomplete vault, never a
  // vault whose key is lost.
  if (!pg) MV_TRY(seal.save(o.dir / kSealFile));

  return ok_status();
}

Result<std::unique_ptr<Vault>> Vault::open(const fs::path& dir, const Unsealer& how,
                                           const Clock& clock) {
  if (!crypto::init()) return make_error(Errc::internal, "libsodium cannot be initialised");
  std::error_code ec;
  if (!fs::exists(dir / kSealFile, ec)) {
    if (fs::exists(dir / kDbFile, ec))
      return make_error(Errc::sealed, dir.string() + " holds an incomplete vault (no master.seal)");
    return make_error(Errc::not_found, "no vault in " + dir.string() + " (run medvault init)");
  }
  MV_ASSIGN(auto seal, crypto::KeySeal::load(dir / kSealFile));
  auto master = unseal(seal, how);
  if (!master.ok()) return master.take_error();
  if (!fs::exists(dir / kDbFile, ec))
    return make_error(Errc::integrity, "the store " + (dir / kDbFile).string() + " is missing");
  MV_ASSIGN(auto store, store::open_sqlite(dir / kDbFile));
  MV_ASSIGN(auto core, make_core(std::move(store), seal.vault_id(), *master, clock));
  return std::unique_ptr<Vault>(
      new VaultImpl(dir, "", std::move(seal), std::move(master).value(), std::move(core)));
}

Result<std::unique_ptr<Vault>> Vault::open_store(const std::string& url, const fs::path& node_dir,
                                                 const Unsealer& how, const Clock& clock) {
  if (!crypto::init()) return make_error(Errc::internal, "libsodium cannot be initialised");
  MV_ASSIGN(auto store, store::open_postgres(url));
  MV_ASSIGN(auto seal, stored_seal(*store));
  auto master = unseal(seal, how);
  if (!master.ok()) return master.take_error();
  MV_ASSIGN(auto core, make_core(std::move(store), seal.vault_id(), *master, clock));
  return std::unique_ptr<Vault>(
      new VaultImpl(node_dir, url, std::move(seal), std::move(master).value(), std::move(core)));
}

Status Vault::migrate(const fs::path& from, const std::string& to, const Unsealer& how) {
  if (!store::is_postgres_url(to)) return make_error(Errc::invalid, "migrate --to takes a postgresql:// URL");
  // Opening the source proves the secret and brings its log up to date.
  MV_ASSIGN(auto src, Vault::open(from, how));
  auto* src_impl = static_cast<VaultImpl*>(src.get());
  MV_ASSIGN(auto dst_store, store::open_postgres(to));
  MV_ASSIGN(auto seal_text, src_impl->seal_text());
  RequestContext ctx;
  ctx.subject.user = "system";
  ctx.subject.role = "system";
  ctx.address = "cli";
  {
    // Recorded in the source before the copy, so the copy carries it too.
    auto e = src_impl->core().entry(ctx, "migrate");
    e.detail = "to PostgreSQL";
    MV_TRY(src_impl->core().audit->append(std::move(e)));
  }
  MV_TRY(store::copy_all(*src_impl->core().store, *dst_store));
  {
    MV_ASSIGN(auto txn, dst_store->begin());
    MV_TRY(txn->put_meta(kSealMeta, seal_text));
    MV_TRY(txn->commit());
  }
  dst_store.reset();
  src.reset();
  MV_ASSIGN(auto dst, Vault::open_store(to, {}, how));
  MV_TRY(dst->verify());
  auto* log = dst->audit_log();
  auto e = static_cast<VaultImpl*>(dst.get())->core().entry(ctx, "migrate");
  e.detail = "from SQLite";
  return log->append(std::move(e));
}

}  // namespace medvault::vault
