// Prints elements the way PySpark prints them: ('the', 13600), [1, 2], None, True, 1.5.
// sluice::str(x) is Python's str() (a top-level string prints bare), sluice::repr(x) is repr().
// User types plug in by specializing sluice::Formatter<T> (with a static
// `void repr(std::string& out, const T& value)`), or by being formattable with fmt.
// Stateless; safe from any thread.
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <concepts>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sluice {

template <class T, class Enable = void>
struct Formatter;

namespace detail {
void appendPythonStringRepr(std::string& out, std::string_view s);
void appendPythonFloatRepr(std::string& out, double v);

template <class T>
void appendRepr(std::string& out, const T& value);

template <class Seq>
void appendSequence(std::string& out, const Seq& seq, char open, char close) {
  out.push_back(open);
  bool first = true;
  for (const auto& x : seq) {
    if (!first) out.append(", ");
    first = false;
    appendRepr(out, x);
  }
  out.push_back(close);
}

template <class Map>
void appendMapping(std::string& out, const Map& m) {
  out.push_back('{');
  bool first = true;
  for (const auto& [k, v] : m) {
    if (!first) out.append(", ");
    first = false;
    appendRepr(out, k);
    out.append(": ");
    appendRepr(out, v);
  }
  out.push_back('}');
}
}  // namespace detail

template <>
struct Formatter<bool> {
  static void repr(std::string& out, bool v) { out.append(v ? "True" : "False"); }
};

template <class T>
struct Formatter<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                     !std::is_same_v<T, char>>> {
  static void repr(std::string& out, T v) { fmt::format_to(std::back_inserter(out), "{}", v); }
};

template <>
struct Formatter<char> {
  static void repr(std::string& out, char v) {
    detail::appendPythonStringRepr(out, std::string_view(&v, 1));
  }
};

template <class T>
struct Formatter<T, std::enable_if_t<std::is_floating_point_v<T>>> {
  static void repr(std::string& out, T v) {
    detail::appendPythonFloatRepr(out, static_cast<double>(v));
  }
};

template <>
struct Formatter<std::string> {
  static void repr(std::string& out, const std::string& v) {
    detail::appendPythonStringRepr(out, v);
  }
};

template <>
struct Formatter<std::string_view> {
  static void repr(std::string& out, std::string_view v) { detail::appendPythonStringRepr(out, v); }
};

template <>
struct Formatter<const char*> {
  static void repr(std::string& out, const char* v) { detail::appendPythonStringRepr(out, v); }
};

// String literals and char arrays (repr("the") == "'the'"); like const char*, up to the first NUL.
template <std::size_t N>
struct Formatter<char[N]> {
  static void repr(std::string& out, const char (&v)[N]) {
    detail::appendPythonStringRepr(out, std::string_view(v));
  }
};

template <>
struct Formatter<std::nullopt_t> {
  static void repr(std::string& out, std::nullopt_t) { out.append("None"); }
};

template <class T>
struct Formatter<std::optional<T>> {
  static void repr(std::string& out, const std::optional<T>& v) {
    if (v) {
      detail::appendRepr(out, *v);
    } else {
      out.append("None");
    }
  }
};

template <class A, class B>
struct Formatter<std::pair<A, B>> {
  static void repr(std::string& out, const std::pair<A, B>& p) {
    out.push_back('(');
    detail::appendRepr(out, p.first);
    out.append(", ");
    detail::appendRepr(out, p.second);
    out.push_back(')');
  }
};

template <class... Ts>
struct Formatter<std::tuple<Ts...>> {
  static void repr(std::string& out, const std::tuple<Ts...>& t) {
    out.push_back('(');
    std::size_t i = 0;
    std::apply(
        [&](const auto&... xs) {
          ((out.append(i++ == 0 ? "" : ", "), detail::appendRepr(out, xs)), ...);
        },
        t);
    if (sizeof...(Ts) == 1) out.push_back(',');
    out.push_back(')');
  }
};

template <class T, class A>
struct Formatter<std::vector<T, A>> {
  static void repr(std::string& out, const std::vector<T, A>& v) {
    detail::appendSequence(out, v, '[', ']');
  }
};

template <class K, class V, class C, class A>
struct Formatter<std::map<K, V, C, A>> {
  static void repr(std::string& out, const std::map<K, V, C, A>& m) {
    detail::appendMapping(out, m);
  }
};

template <class K, class V, class H, class E, class A>
struct Formatter<std::unordered_map<K, V, H, E, A>> {
  static void repr(std::string& out, const std::unordered_map<K, V, H, E, A>& m) {
    detail::appendMapping(out, m);
  }
};

// Fallback: anything fmt can format prints through fmt.
template <class T>
struct Formatter<T, std::enable_if_t<!std::is_arithmetic_v<T> && fmt::is_formattable<T>::value &&
                                     !std::is_convertible_v<T, std::string_view>>> {
  static void repr(std::string& out, const T& v) {
    fmt::format_to(std::back_inserter(out), "{}", v);
  }
};

namespace detail {
template <class T>
void appendRepr(std::string& out, const T& value) {
  static_assert(
      requires(std::string & o, const T& v) { Formatter<T>::repr(o, v); },
      "sluice: no Formatter for this element type; specialize sluice::Formatter<T> "
      "with `static void repr(std::string&, const T&)` or make it fmt-formattable");
  Formatter<T>::repr(out, value);
}

template <class T>
void appendStr(std::string& out, const T& value) {
  if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    out.append(std::string_view(value));
  } else {
    appendRepr(out, value);
  }
}
}  // namespace detail

// Python's repr() of the value: ('a', 1), 'text', None.
template <class T>
std::string repr(const T& value) {
  std::string out;
  detail::appendRepr(out, value);
  return out;
}

// Python's str() of the value: strings bare, everything else as repr.
template <class T>
std::string str(const T& value) {
  std::string out;
  detail::appendStr(out, value);
  return out;
}

}  // namespace sluice
