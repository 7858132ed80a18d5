// The printable page of one recovery-kit custodian (module-private: written
// by Vault::init and create_recovery_kit next to share-N.txt).
#pragma once

#include <string>

#include "common/result.h"

namespace medvault::vault {

// A self-contained HTML page (no script, no external resource, a CSP that
// forbids loading any; print CSS for one A4 page) holding the vault id, which
// share this is (`number` of `n`, `k` needed), the share text, its QR code
// (inline SVG encoding exactly `share_text`) and the recovery procedure in
// French and English. Errc::too_large if the text does not fit a QR code.
Result<std::string> kit_share_page(const std::string& vault_id, int number, int n, int k,
                                   const std::string& share_text);

}  // namespace medvault::vault
