#include "actors/session/session.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/node_id.hpp>
#include <caf/system_messages.hpp>

#include <caf/skip.hpp>
#include "actors/errors.hpp"
#include "actors/ids.hpp"

#include "actors/session/session_state.hpp"

namespace wsvisor {
namespace {

caf::behavior running(session_actor* self);

caf::behavior session_behavior(session_actor* self, session_args args) {
  auto& st = self->state;
  st.start(std::move(args));
  self->set_down_handler([self](caf::down_msg& msg) { self->state.on_down(msg); });
  if (!st.parking_.awaiting_record) return running(self);
  // Until the record comes, only the broker (deliveries) and the registry
  // (the record first) know this actor; anything else waits in the mailbox.
  self->set_default_handler(caf::skip);
  return {
      [self](deliver_atom, const std::string& channel, const shared_body& body,
             std::uint64_t origin, std::uint64_t counter, std::int64_t accepted) {
        self->state.append(channel, body, origin, counter, accepted);
      },
      [self](channel_gap_atom, const std::string& channel) { self->state.on_channel_gap(channel); },
      [self](restore_atom, parked_session& rec, std::string& token) {
        self->state.on_restore(rec, std::move(token));
        self->set_default_handler(caf::print_and_drop);
        self->become(running(self));
      },
  };
}

caf::behavior running(session_actor* self) {
  auto& st = self->state;
  return {
      [&st](attach_atom, caf::actor& conn, transport_ptr& transport, const std::string& token,
            std::uint64_t last_seq) {
        return st.resume(std::move(conn), std::move(transport), nullptr, token, last_seq);
      },
      [&st](remote_attach_atom, caf::actor& conn, const std::string& peer, const std::string& token,
            std::uint64_t last_seq) { return st.attach_remote(conn, peer, token, last_seq); },
      [&st](connection_credit_atom, std::uint64_t bytes) { st.on_credit(bytes); },
      [&st](welcomed_atom) { return st.on_welcomed(); },
      [&st](subscribe_atom, const std::string& channel, bool presence) {
        st.on_subscribe(channel, presence);
      },
      [&st](presence_query_atom, const std::string& channel) { st.on_presence_query(channel); },
      [&st](unsubscribe_atom, const std::string& channel) { st.on_unsubscribe(channel); },
      [&st](local_publish_atom, const std::string& channel, const shared_body& body,
            std::uint64_t cseq) { st.publish(channel, body, cseq); },
      [&st](publish_atom, const std::string& channel, const std::string& body, std::uint64_t cseq) {
        // From a connection on another node: the body crossed as bytes.
        st.publish(channel, std::make_shared<const std::string>(body), cseq);
      },
      [&st](client_ack_atom, std::uint64_t seq) { st.on_ack(seq); },
      [&st](connection_answer_atom, std::string& frame) {
        st.on_connection_answer(std::move(frame));
      },
      [&st](connection_close_atom, std::uint16_t code, std::string& reason) {
        st.on_connection_close(code, std::move(reason));
      },
      [&st](bye_atom) { st.on_bye(); },
      [&st](deliver_atom, const std::string& channel, const shared_body& body, std::uint64_t origin,
            std::uint64_t counter,
            std::int64_t accepted) { st.append(channel, body, origin, counter, accepted); },
      [&st](channel_gap_atom, const std::string& channel) { st.on_channel_gap(channel); },
      [&st](handoff_delivery_atom, const std::string& channel, std::string& body,
            std::uint64_t origin, std::uint64_t counter) {
        st.on_handoff_delivery(channel, std::move(body), origin, counter);
      },
      [&st](handoff_done_atom, std::uint64_t last_cseq) { st.end_adoption(last_cseq); },
      [&st](handoff_abort_atom) { st.on_handoff_abort(); },
      [&st](handover_atom, const caf::actor& target, const std::string& url,
            std::uint32_t retry_ms) { return st.hand_over(target, url, retry_ms); },
      [&st](handoff_subscription_atom, const std::string& channel, bool on) {
        return st.on_handoff_subscription(channel, on);
      },
      [&st](room_atom, std::uint64_t generation) { st.on_room(generation); },
      [&st](session_info_atom) { return st.info(); },
      [&st](session_end_atom) { return st.on_admin_end(); },
      [&st](session_cut_atom) { return st.cut(); },
      [&st](expire_atom) { st.expiry_due(); },
      [&st](replica_retry_atom) {
        st.replica_.retry_pending = false;
        st.replicate();
      },
      [&st](replicate_atom) { st.on_replicate_due(); },
      [&st](park_atom) { st.on_park_request(); },
  };
}

}  // namespace

caf::actor spawn_session(caf::actor_system& sys, session_args args) {
  return sys.spawn(session_behavior, std::move(args));
}

}  // namespace wsvisor
