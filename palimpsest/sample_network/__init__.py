"""The bundled sample network: five sister sites on `.test` hosts, and an opt-in sixth that
renders with script, served on loopback.

Modeled on the network the project is for (DESIGN.md, "The sample network"), in its own words:
shared navigation, cross-links, a foreign-agent disclosure line in the footers, and numbered
revisions that change the way real networks change (revisions.py lists every edit).
`SampleNetwork` serves it as an HTTP forward proxy; `manifest` and `changes` say what a crawl
of a revision should find.

Special features, and where they are:
  paxpoint.test    redirect /news/quiet-channels-reopen/ -> /diplomacy/quiet-channels-reopen/ (301),
                   crawler trap /events/calendar?month=YYYY-MM (every month 200, prev/next forever),
                   PDF /reports/annual-report-2025.pdf
  cognitura.test   broken link /research/withdrawn-study/ (404), PDF /reports/field-survey-2025.pdf,
                   page added in revision 2
  justorium.test   robots.txt Disallow: /private/ (linked from /members/), plain-text document
                   /filings/registration-summary.txt, page removed in revision 2, disclosure
                   dropped in revision 3
  allyvia.test     sitemap-only page /archive/2019-summit-notes/, disclosure dropped in revision 2
                   and restored in revision 3
  factsignal.test  hostile page /labs/embed-test/ (linked from /labs/), noise page /status/
                   ("Last updated" differs per revision), new cross-link in revision 2, page
                   added in revision 3
  civiscope.test   (opt-in: RENDERED_SITES, not SITES) script-rendered: HTML shells whose
                   /assets/app.js fetches /api/articles/SLUG.json for the article text and
                   /api/site.json for the footer's disclosure line and the home page's Latest
                   list; an image added by script, a loading=lazy image and one loaded by an
                   IntersectionObserver below the fold; an article only the script-rendered list
                   links to; JSON edited in revisions 2 and 3, disclosure dropped in revision 2
                   (rendered_manifest and rendered_changes say what each revision holds)
Every site serves robots.txt (with its Sitemap line), sitemap.xml, /favicon.ico,
/assets/site.css (which loads /assets/fonts/body.woff2 and /assets/img/texture.png),
/assets/site.js and PNG images under /media/.
"""

from palimpsest.sample_network.manifest import (
    Changes,
    Manifest,
    RenderedManifest,
    changes,
    manifest,
    rendered_changes,
    rendered_manifest,
)
from palimpsest.sample_network.revisions import LATEST
from palimpsest.sample_network.server import SampleNetwork, serve
from palimpsest.sample_network.sites import RENDERED_SITES, SCRIPT_SITE, SITES

__all__ = [
    "LATEST",
    "RENDERED_SITES",
    "SCRIPT_SITE",
    "SITES",
    "Changes",
    "Manifest",
    "RenderedManifest",
    "SampleNetwork",
    "changes",
    "manifest",
    "rendered_changes",
    "rendered_manifest",
    "serve",
]
