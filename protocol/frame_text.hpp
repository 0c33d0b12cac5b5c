#pragma once

/// The text of an outbound frame, or the per-recipient head of a shared body.
/// Most are short (a message's `{"type":"message","seq":N,`, an `ack`, a
/// `subscribed`): up to `inline_capacity` bytes live inside the object, so
/// building one per recipient and per answer takes no heap block. Longer
/// texts (a `welcome`, an `error` with its message) are kept in a string.
///
/// A value type: copy, move and compare freely; not thread-safe.

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace wsvisor {

class frame_text {
 public:
  static constexpr std::size_t inline_capacity = 46;

  frame_text() = default;
  frame_text(std::string_view text) { assign(text); }  // NOLINT: implicit, like a string
  frame_text(const char* text) : frame_text(std::string_view{text}) {}
  frame_text(std::string&& text) {  // NOLINT
    if (text.size() <= inline_capacity)
      assign(text);
    else
      long_ = std::move(text);
  }
  frame_text(const std::string& text) : frame_text(std::string_view{text}) {}

  std::string_view view() const {
    return long_.empty() ? std::string_view{short_.data(), short_size_} : std::string_view{long_};
  }
  operator std::string_view() const { return view(); }  // NOLINT
  const char* data() const { return view().data(); }
  std::size_t size() const { return long_.empty() ? short_size_ : long_.size(); }
  bool empty() const { return size() == 0; }
  std::string str() const { return std::string{view()}; }
  std::size_t find(std::string_view what) const { return view().find(what); }

  /// Appends `text`; moves to the heap only past the inline capacity.
  frame_text& append(std::string_view text) {
    if (long_.empty() && short_size_ + text.size() <= inline_capacity) {
      std::memcpy(short_.data() + short_size_, text.data(), text.size());
      short_size_ = static_cast<std::uint8_t>(short_size_ + text.size());
      return *this;
    }
    if (long_.empty()) long_.assign(short_.data(), short_size_);
    long_.append(text);
    short_size_ = 0;
    return *this;
  }
  frame_text& append(std::uint64_t number);

  friend bool operator==(const frame_text& a, const frame_text& b) { return a.view() == b.view(); }
  friend bool operator==(const frame_text& a, std::string_view b) { return a.view() == b; }

 private:
  void assign(std::string_view text) {
    if (text.size() <= inline_capacity) {
      std::memcpy(short_.data(), text.data(), text.size());
      short_size_ = static_cast<std::uint8_t>(text.size());
      long_.clear();
    } else {
      long_.assign(text);
      short_size_ = 0;
    }
  }

  std::array<char, inline_capacity> short_{};
  std::uint8_t short_size_ = 0;
  std::string long_;  // used when not empty
};

inline frame_text& frame_text::append(std::uint64_t number) {
  char digits[20];
  auto end = std::to_chars(digits, digits + sizeof digits, number).ptr;
  return append(std::string_view{digits, static_cast<std::size_t>(end - digits)});
}

}  // namespace wsvisor
