// Fuzzes everything that reads checkpoint bytes from outside: signed-note
// verification, checkpoint parsing and verifier-key parsing. Beyond "no
// crash", it checks that whatever is accepted is exactly what was signed or
// parsed: an accepted note's text is the checkpoint it returns, and a parsed
// checkpoint or key prints back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "audit/checkpoint.h"

using namespace medvault::audit;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// The key of the seed corpus notes (fuzz/corpus/checkpoint/*): seed 32 x 0x4d,
// key name "medvault.local/fuzz".
const VerifierKey& corpus_key() {
  static const VerifierKey key = [] {
    auto k = verifier_key_from_seed("medvault.local/fuzz", std::vector<uint8_t>(32, 0x4d));
    check(k.ok());
    return *k;
  }();
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  auto cp = verify_checkpoint(input, corpus_key());
  if (cp.ok()) {
    auto text = checkpoint_text(*cp);
    check(text.ok());
    check(input.substr(0, text->size() + 1) == *text + "\n");
  } else {
    check(cp.error().message.find('\n') == std::string::npos);
  }

  auto parsed = parse_checkpoint_text(input);
  if (parsed.ok()) {
    auto text = checkpoint_text(*parsed);
    // Origins with spaces or '+' parse (the spec only recommends against
    // them) but medvault never writes them.
    if (text.ok()) check(*text == input);
  }

  auto key = parse_verifier_key(input);
  if (key.ok()) {
    auto again = parse_verifier_key(format_verifier_key(*key));
    check(again.ok() && again->name == key->name && again->id == key->id &&
          again->public_key == key->public_key);
  }
  return 0;
}
