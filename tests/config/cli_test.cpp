#include "config/cli.hpp"

#include <gtest/gtest.h>

#include <initializer_list>

namespace wsvisor {
namespace {

cli_result parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"wsvisor"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse_cli(static_cast<int>(argv.size()), argv.data());
}

TEST(Cli, NoArgumentsMeansBuiltInDefaults) {
  auto r = parse({});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_FALSE(r.options.config_file);
  EXPECT_TRUE(r.options.overrides.empty());
  EXPECT_FALSE(r.options.check_config || r.options.show_help || r.options.show_version);
}

TEST(Cli, AcceptsEverySpellingOfConfig) {
  for (auto args :
       {std::vector<const char*>{"--config", "a.toml"}, std::vector<const char*>{"--config=a.toml"},
        std::vector<const char*>{"-c", "a.toml"}}) {
    args.insert(args.begin(), "wsvisor");
    auto r = parse_cli(static_cast<int>(args.size()), args.data());
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.options.config_file, "a.toml");
  }
}

TEST(Cli, CollectsOverridesInOrder) {
  auto r = parse({"--set", "a.b=1", "--set=c.d=x=y", "--set", "e.f=[\"g:1\"]"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.options.overrides, (std::vector<std::string>{"a.b=1", "c.d=x=y", "e.f=[\"g:1\"]"}));
}

TEST(Cli, CheckConfigTakesAnOptionalFile) {
  auto with_file = parse({"--check-config", "a.toml", "--set", "x.y=1"});
  ASSERT_TRUE(with_file.ok()) << with_file.error;
  EXPECT_TRUE(with_file.options.check_config);
  EXPECT_EQ(with_file.options.config_file, "a.toml");
  EXPECT_EQ(with_file.options.overrides.size(), 1u);

  auto without = parse({"--check-config", "--set", "x.y=1"});
  ASSERT_TRUE(without.ok()) << without.error;
  EXPECT_TRUE(without.options.check_config);
  EXPECT_FALSE(without.options.config_file);

  auto with_config = parse({"--config", "a.toml", "--check-config"});
  ASSERT_TRUE(with_config.ok()) << with_config.error;
  EXPECT_EQ(with_config.options.config_file, "a.toml");

  auto inline_file = parse({"--check-config=b.toml"});
  ASSERT_TRUE(inline_file.ok()) << inline_file.error;
  EXPECT_EQ(inline_file.options.config_file, "b.toml");
}

TEST(Cli, RecognisesHelpAndVersion) {
  auto r = parse({"-h", "--version"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(r.options.show_help);
  EXPECT_TRUE(r.options.show_version);
  EXPECT_TRUE(parse({"--help"}).options.show_help);
}

TEST(Cli, RejectsUnknownOptionsNamingThem) {
  auto r = parse({"--confg", "a.toml"});
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("--confg"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("did you mean `--config`?"), std::string::npos) << r.error;
  auto short_option = parse({"-x"});
  EXPECT_NE(short_option.error.find("-x"), std::string::npos) << short_option.error;
}

TEST(Cli, RejectsStrayArguments) {
  auto r = parse({"a.toml"});
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("a.toml"), std::string::npos) << r.error;
}

TEST(Cli, RejectsMissingArgumentsNamingTheOption) {
  for (auto option : {"--config", "-c", "--set"}) {
    auto r = parse({option});
    EXPECT_FALSE(r.ok()) << option;
    EXPECT_NE(r.error.find(option), std::string::npos) << r.error;
  }
  auto followed_by_option = parse({"--config", "--set", "a=1"});
  EXPECT_NE(followed_by_option.error.find("--config"), std::string::npos)
      << followed_by_option.error;
  auto empty = parse({"--config="});
  EXPECT_NE(empty.error.find("--config"), std::string::npos) << empty.error;
}

TEST(Cli, RejectsASecondConfigFile) {
  for (auto args : {std::vector<const char*>{"--config", "a.toml", "-c", "b.toml"},
                    std::vector<const char*>{"--config", "a.toml", "--check-config", "b.toml"}}) {
    args.insert(args.begin(), "wsvisor");
    auto r = parse_cli(static_cast<int>(args.size()), args.data());
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.error.find("twice"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("b.toml"), std::string::npos) << r.error;
  }
}

TEST(Cli, RejectsAValueOnAFlag) {
  auto r = parse({"--version=2"});
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("--version"), std::string::npos) << r.error;
}

TEST(Cli, ToleratesAnEmptyArgv) { EXPECT_TRUE(parse_cli(0, nullptr).ok()); }

TEST(Cli, UsageMentionsEveryOption) {
  auto text = usage_text();
  for (auto option : {"--config", "-c", "--set", "--check-config", "--version", "--help", "-h"})
    EXPECT_NE(text.find(option), std::string::npos) << option;
  EXPECT_EQ(text.back(), '\n');
}

}  // namespace
}  // namespace wsvisor
