// m2m::expected — std::expected where the compiler's library has it.
//
// Why a fallback exists: the fuzz targets are built with clang 14 (the only libFuzzer on
// Debian 12), which cannot see libstdc++ 12's <expected> (it needs __cpp_concepts >= 202002).
// The fallback covers exactly the subset the codec uses; g++ builds always get std::expected.
#pragma once

#include <utility>
#include <version>

#if defined(__cpp_lib_expected)
#include <expected>
namespace m2m {
using std::expected;
using std::unexpected;
}  // namespace m2m
#else
#include <cstdlib>
#include <type_traits>
#include <variant>
namespace m2m {

template <class E>
class unexpected {
 public:
  explicit unexpected(E e) : e_(std::move(e)) {}
  const E& error() const& { return e_; }
  E& error() & { return e_; }
  E&& error() && { return std::move(e_); }

 private:
  E e_;
};
template <class E>
unexpected(E) -> unexpected<E>;

template <class T, class E>
class expected {
 public:
  using value_type = T;
  using error_type = E;
  expected() requires std::is_default_constructible_v<T> : v_(std::in_place_index<0>) {}
  template <class U = T>
    requires std::is_constructible_v<T, U&&> && (!std::is_same_v<std::decay_t<U>, expected>)
  expected(U&& v) : v_(std::in_place_index<0>, std::forward<U>(v)) {}
  template <class G>
  expected(unexpected<G> u) : v_(std::in_place_index<1>, std::move(u).error()) {}

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { check(); return std::get<0>(v_); }
  const T& value() const& { check(); return std::get<0>(v_); }
  T&& value() && { check(); return std::get<0>(std::move(v_)); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  T&& operator*() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  const E& error() const& { return std::get<1>(v_); }
  E& error() & { return std::get<1>(v_); }
  E&& error() && { return std::get<1>(std::move(v_)); }
  template <class U>
  T value_or(U&& u) const& { return has_value() ? **this : static_cast<T>(std::forward<U>(u)); }

 private:
  void check() const { if (!has_value()) std::abort(); }
  std::variant<T, E> v_;
};

template <class E>
class expected<void, E> {
 public:
  using value_type = void;
  using error_type = E;
  expected() = default;
  template <class G>
  expected(unexpected<G> u) : e_(std::move(u).error()), ok_(false) {}
  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const { if (!ok_) std::abort(); }
  const E& error() const& { return e_; }
  E& error() & { return e_; }

 private:
  E e_{};
  bool ok_ = true;
};

}  // namespace m2m
#endif
