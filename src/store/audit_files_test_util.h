// Test support: the audit log of a SQLite vault read whole, and written back
// as a forger who knows the format (docs/formats/audit.md, section 3) but
// not the MAC key would write it: records with valid checksums whatever
// they hold, in the order given, sequence numbers as given. The encoder is
// written here from the format, apart from audit_files.cc.
#pragma once

#include <sodium.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "store/audit_files.h"

namespace medvault::store::testing {

inline std::filesystem::path audit_dir(const std::filesystem::path& db) { return db.string() + "-audit"; }

inline std::vector<AuditRow> read_audit_rows(const std::filesystem::path& db) {
  std::vector<AuditRow> rows;
  auto files = AuditFiles::open(audit_dir(db));
  if (!files.ok()) return rows;
  (void)(*files)->scan(1, UINT64_MAX, [&](const AuditRowView& v) {
    rows.push_back({v.seq, v.time_ms, std::string(v.patient), std::string(v.user), std::string(v.entry),
                    std::string(v.leaf_hash), std::string(v.chain)});
    return true;
  });
  return rows;
}

inline void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// One record: u32 length, u64 BLAKE2b-64 of the rest, u64 seq, i64 time,
// u32 entry length, u16 patient length, u16 user length, 32-byte leaf hash,
// 32-byte chain, patient, user, entry.
inline std::string encode_audit_record(const AuditRow& r) {
  std::string body;
  put_le(body, r.seq, 8);
  put_le(body, static_cast<uint64_t>(r.time_ms), 8);
  put_le(body, r.entry.size(), 4);
  put_le(body, r.patient.size(), 2);
  put_le(body, r.user.size(), 2);
  body += r.leaf_hash;
  body += r.chain;
  body += r.patient;
  body += r.user;
  body += r.entry;
  unsigned char h[8];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(body.data()), body.size(), nullptr, 0);
  std::string out;
  put_le(out, 4 + 8 + body.size(), 4);
  out.append(reinterpret_cast<const char*>(h), sizeof h);
  return out + body;
}

// Replaces every segment with `rows`, 2^16 per segment in the order given.
// The records at the 1-based positions in `torn` fail their checksum, as
// what a torn write leaves.
inline void write_audit_rows(const std::filesystem::path& db, const std::vector<AuditRow>& rows,
                             const std::vector<size_t>& torn = {}) {
  namespace fs = std::filesystem;
  const fs::path dir = audit_dir(db);
  for (const auto& e : fs::directory_iterator(dir)) fs::remove(e.path());
  for (size_t first = 0; first < rows.size() || first == 0; first += AuditFiles::kSegmentEntries) {
    const uint64_t k = first / AuditFiles::kSegmentEntries;
    char name[32];
    std::snprintf(name, sizeof name, "%010llu.log", static_cast<unsigned long long>(k));
    std::string bytes = "MVAUDIT1";
    put_le(bytes, k * AuditFiles::kSegmentEntries + 1, 8);
    for (size_t i = first; i < rows.size() && i < first + AuditFiles::kSegmentEntries; ++i) {
      std::string rec = encode_audit_record(rows[i]);
      for (size_t t : torn)
        if (t == i + 1) rec.back() = static_cast<char>(rec.back() ^ 0x5a);
      bytes += rec;
    }
    std::ofstream(dir / name, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (rows.empty()) break;
  }
}

// The last segment file (for torn-write tests).
inline std::filesystem::path last_audit_segment(const std::filesystem::path& db) {
  std::filesystem::path last;
  for (const auto& e : std::filesystem::directory_iterator(audit_dir(db)))
    if (e.path().extension() == ".log" && (last.empty() || e.path() > last)) last = e.path();
  return last;
}

}  // namespace medvault::store::testing
