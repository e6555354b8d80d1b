// tarmac's build (Zig 0.17.1, pinned in scripts/lib.sh).
//   zig build                                 static, stripped x86_64-linux-musl tarmac in zig-out/bin
//   zig build -Dtarget=aarch64-linux-musl     the same, cross-compiled
//   zig build test                            Criterion tests, dynamic against Debian's -dev
//                                             packages, with AddressSanitizer + UBSan
//   zig build dev                             that sanitizer build of tarmac itself, in zig-out/dev
//   zig build fuzz -- [SECONDS] [TARGET...]   the libFuzzer targets (tests/fuzz, clang) for SECONDS each
// The static libraries come from scripts/staticdeps (prefix: $TARMAC_CACHE/deps/<target>).
const std = @import("std");

const tarmac_version = "0.1.0";

// Every C file of tarmac except the entry point: the binary and the tests share them.
const sources = [_][]const u8{
    "src/util/err.c",
    "src/util/buf.c",
    "src/util/arena.c",
    "src/util/file.c",
    "src/util/misc.c",
    "src/util/sink.c",
    "src/util/proc.c",
    "src/doc/yaml.c",
    "src/doc/emit.c",
    "src/doc/copy.c",
    "src/doc/json_bound.c",
    "src/render/tmpl_expr.c",
    "src/render/tmpl_parse.c",
    "src/render/tmpl_eval.c",
    "src/render/tmpl_filters.c",
    "src/render/tmpl_place.c",
    "src/render/values.c",
    "src/render/embedded.c",
    "src/render/bundle.c",
    "src/render/schema.c",
    "src/render/render.c",
    "src/render/task_refs.c",
    "src/kube/config.c",
    "src/kube/config_exec.c",
    "src/kube/exec.c",
    "src/kube/exec_cred.c",
    "src/kube/client.c",
    "src/kube/batch.c",
    "src/kube/transport_curl.c",
    "src/kube/discovery.c",
    "src/kube/watch.c",
    "src/apply/kinds.c",
    "src/apply/plan.c",
    "src/apply/apply.c",
    "src/apply/diff.c",
    "src/apply/dropped.c",
    "src/apply/handlers.c",
    "src/apply/wait.c",
    "src/apply/reason.c",
    "src/apply/ready.c",
    "src/apply/pod.c",
    "src/apply/podlog.c",
    "src/apply/objdiff.c",
    "src/apply/linediff.c",
    "src/apply/applyset.c",
    "src/apply/prune.c",
    "src/release/record.c",
    "src/release/store.c",
    "src/release/lease.c",
    "src/release/revisions.c",
    "src/release/owned.c",
    "src/release/release.c",
    "src/release/describe.c",
    "src/release/uninstall.c",
    "src/release/status.c",
    "src/release/target.c",
    "src/release/aware.c",
    "src/release/adopt.c",
    "src/stack/stack.c",
    "src/stack/manifests.c",
    "src/stack/secrets.c",
    "src/stack/guard.c",
    "src/stack/refs.c",
    "src/stack/dags.c",
    "src/vcs/hostkey.c",
    "src/vcs/url.c",
    "src/vcs/cache.c",
    "src/vcs/fetch.c",
    "src/vcs/resolve.c",
    "src/vcs/tree.c",
    "src/vcs/alloc.c",
    "src/vcs/scan.c",
    "src/vcs/pattern.c",
    "src/vcs/signers.c",
    "src/vcs/sigkeys.c",
    "src/vcs/sshsig.c",
    "src/vcs/verify.c",
    "src/cli/main.c",
    "src/cli/commands.c",
    "src/cli/suggest.c",
    "src/cli/help.c",
    "src/cli/exitcode.c",
    "src/cli/cmd_version.c",
    "src/cli/cmd_render.c",
    "src/cli/render_opts.c",
    "src/cli/cmd_apply.c",
    "src/cli/signals.c",
    "src/cli/cmd_release.c",
    "src/secret/format.c",
    "src/secret/key.c",
    "src/secret/seal.c",
    "src/secret/gen.c",
    "src/secret/openssh.c",
    "src/secret/sshpub.c",
    "src/secret/store.c",
    "src/secret/objects.c",
    "src/secret/kubeseal.c",
    "src/secret/consumers.c",
    "src/secret/live.c",
    "src/secret/guard.c",
    "src/secret/recover.c",
    "src/cli/cmd_secrets.c",
    "src/cli/cmd_secrets_recover.c",
    "src/cli/cmd_secrets_finish.c",
    "src/cli/cmd_dags.c",
    "src/cli/diff_dags.c",
    "src/cli/cmd_dags_status.c",
    "src/cli/cmd_dags_trust.c",
};
const entry = "src/cli/entry.c";
// the one file that is told the commit and the build's kind (tarmac version)
const version_file = "src/cli/cmd_version.c";
// the one file that gives libgit2 its allocator (mimalloc, in the release binary only)
const alloc_file = "src/vcs/alloc.c";

const test_sources = [_][]const u8{
    "tests/util/test_err.c",
    "tests/util/test_buf.c",
    "tests/util/test_arena.c",
    "tests/util/test_file.c",
    "tests/util/test_sink.c",
    "tests/util/test_misc.c",
    "tests/cli/test_cli.c",
    "tests/doc/test_yaml.c",
    "tests/doc/test_emit.c",
    "tests/doc/test_copy.c",
    "tests/doc/test_json_bound.c",
    "tests/render/test_tmpl.c",
    "tests/render/test_values.c",
    "tests/render/test_schema.c",
    "tests/render/test_render.c",
    "tests/render/test_bundle.c",
    "tests/render/test_injection.c",
    "tests/render/test_place.c",
    "tests/render/test_executor_paths.c",
    "tests/kube/test_config.c",
    "tests/kube/test_client.c",
    "tests/apply/test_ready.c",
    "tests/apply/test_podlog.c",
    "tests/apply/test_kinds.c",
    "tests/apply/test_handlers.c",
    "tests/apply/test_plan.c",
    "tests/apply/test_wait.c",
    "tests/apply/test_prune.c",
    "tests/kube/test_exec.c",
    "tests/apply/test_objdiff.c",
    "tests/release/test_record.c",
    "tests/release/test_lock.c",
    "tests/release/test_target.c",
    "tests/release/test_aware.c",
    "tests/release/test_adopt.c",
    "tests/release/test_deploy.c",
    "tests/vcs/test_hostkey.c",
    "tests/vcs/test_cache.c",
    "tests/vcs/test_tree.c",
    "tests/vcs/test_signers.c",
    "tests/vcs/test_sshsig.c",
    "tests/secret/test_key.c",
    "tests/secret/test_seal.c",
    "tests/secret/test_gen.c",
    "tests/secret/test_store.c",
    "tests/secret/test_sshpub.c",
    "tests/secret/test_objects.c",
    "tests/secret/test_guard.c",
    "tests/secret/test_kubeseal.c",
    "tests/cli/test_cli_secrets.c",
    "tests/stack/test_stack.c",
};

// Link order matters for static archives: users before what they use.
const static_libs = [_][]const u8{
    "git2", "ssh2", "http_parser", "curl", "nghttp2", "ssl", "crypto", "yaml", "jansson", "sodium", "z", "mimalloc",
};
// The same libraries as Debian's -dev packages name them for pkg-config.
const dev_pkgs = [_][]const u8{ "libgit2", "libcurl", "openssl", "yaml-0.1", "jansson", "libsodium", "libssh2", "zlib" };

const warn_flags = [_][]const u8{
    "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Wshadow", "-Wstrict-prototypes",
    "-Wmissing-prototypes", "-Wno-unused-parameter", "-Werror",
};

pub fn build(b: *std.Build) void {
    // Zig 0.17 reuses a configuration whose build.zig and options are unchanged, even
    // from another checkout: the paths below (fixtures, deps), the commit `version`
    // prints and pkg-config's answer are read here, so every build configures afresh
    // (about 0.1 s). A reused one ran another checkout's tests against fixtures gone.
    b.graph.poisonCache();
    const target = b.standardTargetOptions(.{
        .default_target = .{ .cpu_arch = .x86_64, .os_tag = .linux, .abi = .musl },
    });
    const optimize = b.option(std.builtin.Optimize, "optimize", "debug, safe, fast or small (default: fast)") orelse .fast;
    const strip = b.option(bool, "strip", "strip symbols (default: true)") orelse true;
    // arch-os-abi without version ranges: names the deps prefix and what `version` prints
    const triple = b.fmt("{s}-{s}-{s}", .{
        @tagName(target.result.cpu.arch), @tagName(target.result.os.tag), @tagName(target.result.abi),
    });
    const cache = b.graph.environ_map.get("TARMAC_CACHE") orelse "/var/cache/tarmac";
    const deps = b.option([]const u8, "deps", "prefix of the static libraries (default: $TARMAC_CACHE/deps/<target>)") orelse
        b.fmt("{s}/deps/{s}", .{ cache, triple });
    const commit = gitCommit(b);

    // ---------------------------------------------------------------- release binary
    // the commit and the build's kind reach only cmd_version.c, so a new commit recompiles
    // one file, not all of them
    const version = b.fmt("-DTM_VERSION=\"{s}\"", .{tarmac_version});
    const build_info = [_][]const u8{
        b.fmt("-DTM_COMMIT=\"{s}\"", .{commit}),
        b.fmt("-DTM_TARGET=\"{s}\"", .{triple}),
        b.fmt("-DTM_OPTIMIZE=\"{s}\"", .{@tagName(optimize)}),
        "-DTM_LINKAGE=\"static\"",
    };
    const flags = std.mem.concat(b.allocator, []const u8, &.{ &warn_flags, &.{version} }) catch @panic("OOM");
    const version_flags = std.mem.concat(b.allocator, []const u8, &.{ flags, &build_info }) catch @panic("OOM");
    // only the release binary links mimalloc (scripts/staticdeps); the tests use Debian's libgit2 as it is
    const alloc_flags = std.mem.concat(b.allocator, []const u8, &.{ flags, &.{"-DTM_WITH_MIMALLOC"} }) catch @panic("OOM");

    // bundle/ becomes a C file at build time. The generator walks the directory itself, so
    // it runs on every build (milliseconds); unchanged output keeps the compile cached.
    const embed_mod = b.createModule(.{ .target = b.graph.host, .optimize = .fast, .link_libc = true });
    embed_mod.addCSourceFiles(.{ .files = &.{"tools/embed.c"}, .flags = &warn_flags });
    const embed_exe = b.addExecutable(.{ .name = "embed", .root_module = embed_mod });
    const embed_run = b.addRunArtifact(embed_exe);
    const bundle_c = embed_run.addOutputFileArg("bundle_data.c");
    embed_run.addDirectoryArg2(b.path("bundle"), .{});
    embed_run.has_side_effects = true;

    const mod = b.createModule(.{ .target = target, .optimize = optimize, .strip = strip, .link_libc = true });
    for (sources) |src| mod.addCSourceFile(.{
        .file = b.path(src),
        .flags = if (std.mem.eql(u8, src, version_file)) version_flags else if (std.mem.eql(u8, src, alloc_file)) alloc_flags else flags,
    });
    mod.addCSourceFile(.{ .file = bundle_c, .flags = flags });
    mod.addCSourceFiles(.{ .files = &.{entry}, .flags = flags });
    mod.addIncludePath(b.path("include"));
    mod.addIncludePath(b.path("src"));
    mod.addIncludePath(.{ .cwd_relative = b.fmt("{s}/include", .{deps}) });
    mod.addLibraryPath(.{ .cwd_relative = b.fmt("{s}/lib", .{deps}) });
    for (static_libs) |l| mod.linkSystemLibrary(l, .{ .use_pkg_config = .no, .preferred_link_mode = .static });
    const exe = b.addExecutable(.{ .name = "tarmac", .root_module = mod, .linkage = .static });
    b.installArtifact(exe);

    const run = b.addRunArtifact(exe);
    run.addPassthruArgs();
    b.step("run", "build and run tarmac (zig build run -- version)").dependOn(&run.step);

    // ---------------------------------------------------------------- fuzzing
    // libFuzzer targets need clang's fuzzer runtime, which Zig does not ship: the step runs
    // scripts/fuzz (clang, ASan + UBSan) on every source here but the cli's.
    var fuzz_sources: []const u8 = "";
    for (sources) |src| {
        if (!std.mem.startsWith(u8, src, "src/cli/"))
            fuzz_sources = b.fmt("{s}{s}{s}", .{ fuzz_sources, if (fuzz_sources.len > 0) " " else "", src });
    }
    const fuzz = std.Build.Step.Run.create(b, "run scripts/fuzz");
    fuzz.addFileArg(b.path("scripts/fuzz"));
    fuzz.has_side_effects = true;
    fuzz.setEnvironmentVariable("TARMAC_FUZZ_SOURCES", fuzz_sources);
    fuzz.addPassthruArgs();
    b.step("fuzz", "build the libFuzzer targets and run each (zig build fuzz -- [SECONDS] [TARGET...])").dependOn(&fuzz.step);

    // ---------------------------------------------------------------- sanitizer builds
    // Zig ships no AddressSanitizer runtime, so the sanitizer builds use the system C
    // compiler (gcc, with Debian's libasan/libubsan) against Debian's -dev packages.
    const cc = b.option([]const u8, "cc", "C compiler for the sanitizer builds (default: gcc)") orelse "gcc";
    const cflags = pkgConfig(b, "--cflags");
    const ldflags = pkgConfig(b, "--libs");
    const san = [_][]const u8{
        "-g",                        "-O1",                "-fno-omit-frame-pointer",
        "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
        version,                     "-Iinclude",          "-Isrc",
    };
    const san_info = [_][]const u8{
        b.fmt("-DTM_COMMIT=\"{s}\"", .{commit}),
        "-DTM_TARGET=\"native\"", "-DTM_OPTIMIZE=\"sanitize\"", "-DTM_LINKAGE=\"dynamic\"",
    };

    const test_step = b.step("test", "run the Criterion tests with ASan and UBSan");
    const dev_step = b.step("dev", "build tarmac with ASan and UBSan into zig-out/dev");
    if (cflags != null and ldflags != null) {
        const sc: SanitizerCompile = .{ .b = b, .cc = cc, .san = &san, .info = &san_info, .cflags = cflags.?, .ldflags = ldflags.? };
        const lib_objs = sc.objects(&sources, bundle_c);
        const tcc = sc.link(lib_objs, sc.objects(&test_sources, null), "tarmac-tests", &.{"-lcriterion"});
        const trun = std.Build.Step.Run.create(b, "run tarmac-tests");
        trun.addFileArg(tcc);
        // each test runs in its own process (Criterion's default); a 60 s cap per test
        trun.addArgs(&.{ "--timeout", "60" });
        // zig build test -Dfilter='render_injection/*' runs the matching tests only
        if (b.option([]const u8, "filter", "run only the tests matching this Criterion pattern (suite/test)")) |f|
            trun.addArg(b.fmt("--filter={s}", .{f}));
        trun.setCwd(b.path("."));
        trun.setEnvironmentVariable("TM_TEST_FIXTURES", rootPath(b, "tests/fixtures"));
        // TM_UPDATE_GOLDEN=1 zig build test rewrites tests/fixtures/render/*.yaml
        if (b.graph.environ_map.get("TM_UPDATE_GOLDEN")) |v| trun.setEnvironmentVariable("TM_UPDATE_GOLDEN", v);
        trun.setEnvironmentVariable("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1:strict_string_checks=1");
        trun.setEnvironmentVariable("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1");
        // one third-party leak, not ours: tests/lsan.supp says which and why
        trun.setEnvironmentVariable("LSAN_OPTIONS", b.fmt("suppressions={s}:print_suppressions=0", .{rootPath(b, "tests/lsan.supp")}));
        trun.has_side_effects = true;
        trun.stdio = .inherit;
        test_step.dependOn(&trun.step);

        const dev = sc.link(lib_objs, sc.objects(&.{entry}, null), "tarmac", &.{});
        const inst = b.addInstallFileWithDir(dev, .{ .custom = "dev" }, "tarmac");
        dev_step.dependOn(&inst.step);
    } else {
        const fail = b.addFail("pkg-config could not find Debian's -dev packages; run scripts/setup first");
        test_step.dependOn(&fail.step);
        dev_step.dependOn(&fail.step);
    }
}

// The sanitizer builds: one cached gcc invocation per file (both cores compile, and an
// edit recompiles only its file; headers are inputs of every object), then one link.
const SanitizerCompile = struct {
    b: *std.Build,
    cc: []const u8,
    san: []const []const u8,
    info: []const []const u8, // only for version_file
    cflags: []const []const u8,
    ldflags: []const []const u8,

    fn object(sc: SanitizerCompile, file: std.Build.LazyPath, is_version: bool) std.Build.LazyPath {
        const c = sc.b.addSystemCommand(&.{sc.cc});
        c.addArgs(&warn_flags);
        c.addArgs(sc.san);
        if (is_version) c.addArgs(sc.info);
        c.addArgs(sc.cflags);
        c.addArg("-c");
        c.addFileArg(file);
        for (headers) |h| c.addFileInput(sc.b.path(h));
        c.addArg("-o");
        c.setCwd(sc.b.path("."));
        return c.addOutputFileArg("o.o");
    }

    fn objects(sc: SanitizerCompile, files: []const []const u8, generated: ?std.Build.LazyPath) []std.Build.LazyPath {
        var list: std.ArrayList(std.Build.LazyPath) = .empty;
        for (files) |f| list.append(sc.b.allocator, sc.object(sc.b.path(f), std.mem.eql(u8, f, version_file))) catch @panic("OOM");
        if (generated) |g| list.append(sc.b.allocator, sc.object(g, false)) catch @panic("OOM");
        return list.items;
    }

    fn link(sc: SanitizerCompile, a: []const std.Build.LazyPath, b2: []const std.Build.LazyPath, name: []const u8, libs: []const []const u8) std.Build.LazyPath {
        const c = sc.b.addSystemCommand(&.{sc.cc});
        c.addArgs(sc.san);
        for (a) |o| c.addFileArg(o);
        for (b2) |o| c.addFileArg(o);
        c.addArg("-o");
        const out = c.addOutputFileArg(name);
        c.addArgs(sc.ldflags);
        c.addArgs(libs);
        return out;
    }
};

const headers = [_][]const u8{
    "include/tarmac/util.h",
    "include/tarmac/cli.h",
    "include/tarmac/exitcode.h",
    "include/tarmac/doc.h",
    "include/tarmac/kube.h",
    "include/tarmac/render.h",
    "include/tarmac/apply.h",
    "include/tarmac/release.h",
    "include/tarmac/labels.h",
    "include/tarmac/stack.h",
    "src/release/release_private.h",
    "src/stack/stack_private.h",
    "include/tarmac/secret.h",
    "src/secret/secret_private.h",
    "src/apply/ready.h",
    "src/apply/reason.h",
    "src/apply/podlog.h",
    "src/apply/objdiff.h",
    "src/apply/apply_private.h",
    "src/apply/handlers.h",
    "src/kube/kube_private.h",
    "src/render/tmpl.h",
    "src/render/tmpl_parser.h",
    "src/render/render_private.h",
    "src/cli/cli.h",
    "tests/testutil.h",
    "tests/clirun.h",
    "tests/secret/helpers.h",
    "tests/kube/scripted.h",
    "tests/vcs/sshsig_fixtures.h",
    "src/vcs/vcs_private.h",
    "include/tarmac/vcs.h",
};

fn pkgConfig(b: *std.Build, what: []const u8) ?[]const []const u8 {
    var code: u8 = 0;
    var argv: std.ArrayList([]const u8) = .empty;
    argv.appendSlice(b.allocator, &.{ "pkg-config", what }) catch @panic("OOM");
    argv.appendSlice(b.allocator, &dev_pkgs) catch @panic("OOM");
    const out = b.runAllowFail(argv.items, &code, .ignore) catch return null;
    var list: std.ArrayList([]const u8) = .empty;
    var it = std.mem.tokenizeAny(u8, out, " \t\r\n");
    while (it.next()) |tok| list.append(b.allocator, tok) catch @panic("OOM");
    return list.items;
}

// "abc123def456" or "abc123def456-dirty"; "unknown" outside a git checkout.
fn gitCommit(b: *std.Build) []const u8 {
    var code: u8 = 0;
    const head = b.runAllowFail(&.{ "git", "-C", rootPath(b, "."), "rev-parse", "--short=12", "HEAD" }, &code, .ignore) catch
        return "unknown";
    const h = std.mem.trim(u8, head, " \r\n");
    const status = b.runAllowFail(&.{ "git", "-C", rootPath(b, "."), "status", "--porcelain", "--untracked-files=no" }, &code, .ignore) catch "";
    return if (std.mem.trim(u8, status, " \r\n").len > 0) b.fmt("{s}-dirty", .{h}) else h;
}

fn rootPath(b: *std.Build, sub: []const u8) []const u8 {
    return b.root.joinString(b.allocator, sub) catch @panic("OOM");
}
