// The names of K-FAC's enum options, one table per enum: parse_* and to_string read the same
// table, so a value and its name are written once.
#include <fmt/format.h>

#include <string>

#include "tkfac/core/error.hpp"
#include "tkfac/kfac/kfac_options.hpp"

namespace tkfac::kfac {

namespace {

template <class E>
struct EnumName {
  E value;
  std::string_view name;
};

// `field`: the KfacOptions member whose flag an empty `option` stands for.
template <class E, std::size_t N>
E parse_enum(std::string_view text, std::string_view option, const char* field,
             const EnumName<E> (&names)[N]) {
  if (option.empty()) option = tkfac::options::flag_of(kfac_option_table(), field);
  std::string known;
  for (const auto& n : names) {
    if (text == n.name) return n.value;
    known += known.empty() ? "" : ", ";
    known += n.name;
  }
  throw InputError(
      fmt::format("{}: unknown value '{}' (expected one of: {})", option, text, known));
}

template <class E, std::size_t N>
std::string_view enum_name(E value, const EnumName<E> (&names)[N]) {
  for (const auto& n : names)
    if (n.value == value) return n.name;
  return "?";
}

constexpr EnumName<DampingScheme> k_damping[] = {{DampingScheme::tikhonov, "tikhonov"},
                                                 {DampingScheme::pi, "pi"}};
constexpr EnumName<KfacMethod> k_method[] = {{KfacMethod::inverse, "inverse"},
                                             {KfacMethod::solve, "solve"}};
constexpr EnumName<FisherType> k_fisher[] = {{FisherType::empirical, "empirical"},
                                             {FisherType::monte_carlo, "mc"}};
constexpr EnumName<BiasMode> k_bias[] = {{BiasMode::folded, "folded"},
                                         {BiasMode::separate, "separate"}};
constexpr EnumName<EmaInit> k_ema_init[] = {{EmaInit::first_batch, "first-batch"},
                                            {EmaInit::zero, "zero"}};

}  // namespace

DampingScheme parse_damping_scheme(std::string_view t, std::string_view o) {
  return parse_enum(t, o, "damping_scheme", k_damping);
}
KfacMethod parse_kfac_method(std::string_view t, std::string_view o) {
  // Accept the paper's numbering too.
  if (t == "1") return KfacMethod::inverse;
  if (t == "2") return KfacMethod::solve;
  return parse_enum(t, o, "method", k_method);
}
FisherType parse_fisher_type(std::string_view t, std::string_view o) {
  return parse_enum(t, o, "fisher", k_fisher);
}
BiasMode parse_bias_mode(std::string_view t, std::string_view o) {
  return parse_enum(t, o, "bias", k_bias);
}
EmaInit parse_ema_init(std::string_view t, std::string_view o) {
  return parse_enum(t, o, "ema_init", k_ema_init);
}

std::string_view to_string(DampingScheme v) { return enum_name(v, k_damping); }
std::string_view to_string(KfacMethod v) { return enum_name(v, k_method); }
std::string_view to_string(FisherType v) { return enum_name(v, k_fisher); }
std::string_view to_string(BiasMode v) { return enum_name(v, k_bias); }
std::string_view to_string(EmaInit v) { return enum_name(v, k_ema_init); }

}  // namespace tkfac::kfac
