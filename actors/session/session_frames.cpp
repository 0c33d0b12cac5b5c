#include "actors/session/session_frames.hpp"

#include <type_traits>
#include <utility>
#include <variant>

#include <caf/make_message.hpp>

#include "actors/session/messages.hpp"

namespace wsvisor {

caf::message session_message(proto::client_frame& frame) {
  return std::visit(
      [](auto& f) {
        using frame_type = std::decay_t<decltype(f)>;
        if constexpr (std::is_same_v<frame_type, proto::subscribe>)
          return caf::make_message(subscribe_atom::value, std::move(f.channel), f.presence);
        else if constexpr (std::is_same_v<frame_type, proto::presence>)
          return caf::make_message(presence_query_atom::value, std::move(f.channel));
        else if constexpr (std::is_same_v<frame_type, proto::unsubscribe>)
          return caf::make_message(unsubscribe_atom::value, std::move(f.channel));
        else if constexpr (std::is_same_v<frame_type, proto::publish>)
          return caf::make_message(local_publish_atom::value, std::move(f.channel),
                                   std::move(f.body), f.cseq);
        else if constexpr (std::is_same_v<frame_type, proto::ack>)
          return caf::make_message(client_ack_atom::value, f.seq);
        else if constexpr (std::is_same_v<frame_type, proto::bye>)
          return caf::make_message(bye_atom::value);
        else
          return caf::message{};  // hello, resume, pong: the connection's own
      },
      frame);
}

}  // namespace wsvisor
