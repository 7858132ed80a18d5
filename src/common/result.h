// Result<T>: a value or an Error, the return type of every operation a
// request can reach. Errors are values; no exception crosses a module
// boundary (third-party exceptions are caught in the adapter that wraps the
// library). Error messages never contain patient data or secrets: they name
// resources by type and logical id only.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include "common/errors.h"

namespace medvault {

struct Error {
  Errc code = Errc::internal;
  std::string message;  // one line, safe to show to the caller and to log

  // Optional FHIRPath-like location of the problem in a resource
  // ("Patient.birthDate"), reported in OperationOutcome.issue.expression.
  std::string path;
};

inline Error make_error(Errc code, std::string message, std::string path = {}) {
  return Error{code, std::move(message), std::move(path)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }
  Error&& take_error() { assert(!ok()); return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return err_; }
  Error&& take_error() { assert(!ok_); return std::move(err_); }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status ok_status() { return Status(); }

}  // namespace medvault

// Propagates an error from an expression returning Result<...>.
#define MV_TRY(expr)                                   \
  do {                                                 \
    auto&& mv_try_r_ = (expr);                         \
    if (!mv_try_r_.ok()) return mv_try_r_.take_error(); \
  } while (0)

#define MV_CONCAT_INNER(a, b) a##b
#define MV_CONCAT(a, b) MV_CONCAT_INNER(a, b)
// MV_ASSIGN(auto x, expr): declares x from a Result<T> or returns its error.
#define MV_ASSIGN(decl, expr) MV_ASSIGN_IMPL(MV_CONCAT(mv_assign_r_, __LINE__), decl, expr)
#define MV_ASSIGN_IMPL(tmp, decl, expr)      \
  auto tmp = (expr);                         \
  if (!tmp.ok()) return tmp.take_error();    \
  decl = std::move(tmp).value()
