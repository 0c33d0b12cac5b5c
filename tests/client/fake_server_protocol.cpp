// The wsvisor.v1 side of the fake server: sessions, resume outcomes,
// publishes with cseq dedup, fan-out with seqs and a replay buffer.

#include "tests/client/fake_server_impl.hpp"

namespace wsvisor::test {

std::shared_ptr<fake_session> fake_server_impl::new_session() {
  auto s = std::make_shared<fake_session>();
  ++session_counter;
  s->id = "s" + std::to_string(session_counter);
  s->token = "t" + std::to_string(session_counter) + "-secret";
  sessions[s->id] = s;
  return s;
}

void fake_server_impl::welcome(const std::shared_ptr<fake_conn>& c, const fake_session& s,
                               bool resumed, const std::string& reason) {
  json::object o{{"type", "welcome"},
                 {"session", s.id},
                 {"token", s.token},
                 {"resumed", resumed},
                 {"last_cseq", s.highest_cseq},
                 {"heartbeat_ms", opts.heartbeat_ms},
                 {"resume_window_ms", opts.resume_window_ms}};
  if (!reason.empty()) o["reason"] = reason;
  c->send(encode(std::move(o)));
}

void fake_server_impl::on_frame(const std::shared_ptr<fake_conn>& c, const std::string& text) {
  json::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    c->send(R"({"type":"error","code":"bad_json","message":"not a JSON object"})");
    return;
  }
  auto& o = v.get_object();
  record(c->number, o);
  auto* t = o.if_contains("type");
  std::string type = t && t->is_string() ? std::string{t->get_string()} : "";
  if (type == "hello") {
    c->sess = new_session();
    c->sess->attached = c;
    welcome(c, *c->sess, false, "");
    return;
  }
  if (type == "resume") return on_resume(c, o);
  if (!c->sess) {
    c->send(R"({"type":"error","code":"no_session","message":"hello first"})");
    return;
  }
  auto& s = *c->sess;
  if (type == "subscribe" || type == "unsubscribe") {
    std::string ch{o.at("channel").as_string()};
    if (type == "subscribe")
      s.channels.insert(ch);
    else
      s.channels.erase(ch);
    c->send(
        encode({{"type", type == "subscribe" ? "subscribed" : "unsubscribed"}, {"channel", ch}}));
  } else if (type == "publish") {
    on_publish(c, o);
  } else if (type == "ack") {
    auto seq = o.at("seq").to_number<std::uint64_t>();
    while (!s.buffer.empty() && s.buffer.front().first <= seq) s.buffer.pop_front();
  } else if (type == "bye") {
    sessions.erase(s.id);
    c->sess.reset();
    c->close_with(1000);
  }
}

void fake_server_impl::on_resume(const std::shared_ptr<fake_conn>& c, const json::object& o) {
  std::string id{o.at("session").as_string()};
  std::string token{o.at("token").as_string()};
  auto last_seq = o.at("last_seq").to_number<std::uint64_t>();
  auto it = sessions.find(id);
  std::string reason;
  if (forced_reset) {
    reason = *forced_reset;
    forced_reset.reset();
  } else if (it == sessions.end() || it->second->token != token) {
    reason = "unknown";
  } else if (last_seq < it->second->evicted_upto) {
    reason = "overflow";
  }
  if (!reason.empty()) {
    if (it != sessions.end() && it->second->token == token) sessions.erase(it);
    c->sess = new_session();
    c->sess->attached = c;
    welcome(c, *c->sess, false, reason);
    return;
  }
  auto s = it->second;
  if (auto old = s->attached.lock(); old && old != c) old->close_with(4409);
  s->attached = c;
  c->sess = s;
  welcome(c, *s, true, "");
  while (!s->buffer.empty() && s->buffer.front().first <= last_seq) s->buffer.pop_front();
  for (auto& [seq, frame] : s->buffer) c->send(frame);
}

void fake_server_impl::on_publish(const std::shared_ptr<fake_conn>& c, const json::object& o) {
  if (drop_publishes) return;
  auto& s = *c->sess;
  auto cseq = o.at("cseq").to_number<std::uint64_t>();
  std::string channel{o.at("channel").as_string()};
  auto ack = encode({{"type", "ack"}, {"cseq", cseq}});
  if (cseq <= s.highest_cseq) {  // a resend: acknowledged again, not published twice
    if (opts.ack_publishes) c->send(ack);
    return;
  }
  if (cseq != s.highest_cseq + 1) {
    c->send(R"({"type":"error","code":"bad_cseq","message":"cseq skips ahead"})");
    return;
  }
  s.highest_cseq = cseq;
  auto data = json::serialize(o.at("data"));
  {
    std::lock_guard guard{mtx};
    accepted.push_back({s.id, cseq, channel, data});
  }
  fan_out(channel, data);
  if (opts.ack_publishes) c->send(ack);
}

void fake_server_impl::fan_out(const std::string& channel, const std::string& data) {
  for (auto& [id, s] : sessions) {
    if (s->channels.count(channel) == 0) continue;
    auto seq = s->next_seq++;
    auto frame = encode({{"type", "message"}, {"seq", seq}, {"channel", channel}});
    frame.pop_back();  // splice the data in as is
    frame += R"(,"data":)" + data + "}";
    s->buffer.emplace_back(seq, frame);
    if (s->buffer.size() > opts.replay_buffer) {
      s->evicted_upto = s->buffer.front().first;
      s->buffer.pop_front();
    }
    if (auto c = s->attached.lock()) c->send(frame);
  }
}

}  // namespace wsvisor::test
