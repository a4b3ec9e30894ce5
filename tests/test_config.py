"""The network config: written by `palimpsest init`, read once, wrong keys named."""

from __future__ import annotations

from index.collection import Collection
from index.config import Limits, Politeness, load_config
from palimpsest.cli import main
from tests.conftest import crawl, new_collection


def test_init_writes_a_commented_template_with_every_option(tmp_path, capsys):
    assert main(["init", "--collection", str(tmp_path), "--site",
                 "paxpoint=http://paxpoint.test/", "--site", "allyvia=http://allyvia.test/"]) == 0
    text = (tmp_path / "palimpsest.toml").read_text()
    for cls in (Politeness, Limits):
        for name in cls.__dataclass_fields__:
            assert f"\n{name} = " in text, name
    assert text.count("\n# ") > 15
    config = load_config(tmp_path / "palimpsest.toml")
    assert [s.name for s in config.sites] == ["paxpoint", "allyvia"]
    assert config.sites[1].hosts == ("allyvia.test",)


def test_init_for_the_sample_network_watches_the_disclosure_line(network_history):
    # the session's collection was set up as `palimpsest init --sample-network URL` does
    config = network_history.collection.load_config()
    assert len(config.sites) == 5
    assert config.proxy == network_history.network.url
    assert config.watch[0].name == "disclosure"


def test_init_refuses_to_overwrite(tmp_path, capsys):
    assert main(["init", "--collection", str(tmp_path)]) == 0
    assert main(["init", "--collection", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err


def test_a_bad_key_gets_one_line_naming_it_and_exit_2(tmp_path, capsys):
    main(["init", "--collection", str(tmp_path)])
    path = tmp_path / "palimpsest.toml"
    path.write_text(path.read_text().replace("max_depth = 20", "max_depht = 20"))
    assert main(["crawl", "--collection", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "limits.max_depht" in err and "unknown key" in err


def test_a_bad_value_is_named_with_its_key(tmp_path, capsys):
    main(["init", "--collection", str(tmp_path)])
    path = tmp_path / "palimpsest.toml"
    path.write_text(path.read_text().replace("concurrency_per_site = 2",
                                             'concurrency_per_site = "two"'))
    assert main(["crawl", "--collection", str(tmp_path)]) == 2
    assert "politeness.concurrency_per_site: must be a int" in capsys.readouterr().err


def test_missing_config_says_how_to_make_one(tmp_path, capsys):
    assert main(["crawl", "--collection", str(tmp_path / "none")]) == 2
    assert "palimpsest init" in capsys.readouterr().err


def test_no_robots_is_obeyed_and_recorded_in_warcinfo(tmp_path, network_history):
    from palimpsest.sample_network import manifest
    from tests.conftest import crawl_ids, read_records

    network = network_history.network  # the session's network, at its last revision
    collection = new_collection(tmp_path, network)
    crawl(collection, "--no-robots", "--site", "justorium")  # the site with disallowed pages
    records = read_records(crawl_ids(collection)[0].warcs)
    info = records[0].body.decode()
    assert "justorium=ignore" in info
    captured = {r.url for r in records if r.type == "response"}
    assert manifest(network.revision).disallowed <= captured


def test_response_size_limit_cuts_and_marks_warc_truncated(tmp_path, network_history):
    from tests.conftest import crawl_ids, read_records

    collection = new_collection(tmp_path, network_history.network)
    path = collection.config_path
    path.write_text(path.read_text().replace("max_response_bytes = 20000000",
                                             "max_response_bytes = 4000"))
    crawl(collection, "--site", "paxpoint", "--max-pages", "2")
    records = read_records(crawl_ids(collection)[0].warcs)
    truncated = [r for r in records if r.headers.get("WARC-Truncated") == "length"]
    assert truncated
    assert all(len(r.body) < 70_000 for r in truncated)


def test_collection_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PALIMPSEST_COLLECTION", str(tmp_path))
    assert Collection.locate(None).root == tmp_path.resolve()


SITES_TOML = """name = "index"
[[sites]]
name = "root"
seeds = ["http://shared.test/"]
[[sites]]
name = "desk"
seeds = ["http://shared.test/desk/", "https://shared.test:8443/desk/"]
[[sites]]
name = "also-root"
seeds = ["http://shared.test/"]
[[sites]]
name = "hosted"
seeds = ["http://wide.test/start/"]
hosts = ["wide.test", "cdn.example.test"]
[[sites]]
name = "v6"
seeds = ["http://[::1]:8080/a/"]
"""


def test_the_site_index_finds_the_site_every_site_would_claim(tmp_path):
    """`SiteIndex` (the crawl's look-up by host) gives what asking every site gives: the
    longest seed prefix, the first of two equal ones, configured hosts and their
    subdomains on any scheme and port, and no site for the rest."""
    from index.config import SiteIndex, site_for_url

    (tmp_path / "palimpsest.toml").write_text(SITES_TOML)
    sites = load_config(tmp_path / "palimpsest.toml").sites
    index = SiteIndex(sites)
    expected = {
        "http://shared.test/": "root", "http://SHARED.test/about": "root",
        "http://shared.test/desk/one": "desk", "http://shared.test/desk": "root",
        "https://shared.test:8443/desk/x?q=1": "desk", "https://shared.test/desk/x": None,
        "http://shared.test.evil/": None, "http://wide.test/elsewhere": "hosted",
        "https://img.cdn.example.test:9/p.png": "hosted", "http://example.test/": None,
        "http://[::1]:8080/a/b": "v6", "http://[::1]:8080/b": None, "mailto:x@y.test": None,
    }
    for url, name in expected.items():
        found = index.site_for_url(url)
        assert (found.name if found else None) == name, url
        assert found == site_for_url(sites, url), url
