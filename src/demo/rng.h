// Deterministic pseudo-random numbers for the demo generator (module-private).
//
// The generator promises the same bytes for the same options on every
// machine, so nothing here uses <random> distributions (their output is
// implementation-defined) or floating point: SplitMix64 for the stream and
// integer range mapping on top of it.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>

namespace medvault::demo {

// The SplitMix64 finaliser: a bijective 64-bit mix, used both as the output
// function of Rng and to derive independent stream seeds.
constexpr uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  // Seed of the independent stream number `stream` under `seed`.
  static uint64_t derive(uint64_t seed, uint64_t stream) {
    return mix64(mix64(seed ^ 0x6d65647661756c74ULL) + mix64(stream + 0x9e3779b97f4a7c15ULL));
  }

  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix64(state_);
  }

  // Uniform in [0, n). REQUIRES n > 0. Lemire's multiply-shift: the bias is
  // at most n / 2^64, far below anything a demo data set could show.
  uint64_t below(uint64_t n) {
    assert(n > 0);
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

  // Uniform in [lo, hi]. REQUIRES lo <= hi.
  int64_t between(int64_t lo, int64_t hi) {
    assert(lo <= hi);
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
  }

  // True with probability p/100 (p/1000 for permille).
  bool percent(int p) { return static_cast<int>(below(100)) < p; }
  bool permille(int p) { return static_cast<int>(below(1000)) < p; }

  // Roughly normal around `mean`, bounded by mean +/- spread: the mean of
  // three uniform draws (Irwin-Hall), so extremes are rare but possible.
  int64_t around(int64_t mean, int64_t spread) {
    int64_t sum = between(-spread, spread) + between(-spread, spread) + between(-spread, spread);
    return mean + sum / 3;
  }

  template <typename T>
  const T& pick(std::span<const T> items) {
    assert(!items.empty());
    return items[below(items.size())];
  }

 private:
  uint64_t state_;
};

}  // namespace medvault::demo
