/**
 * The VT Intelligence query reference served as vt://docs/search-syntax. It lives here as a string
 * (not a .md file) so that it is compiled into dist/ and ships with the package. Modifiers marked
 * "(unverified)" are documented by third parties but not confirmed against the live API.
 */
export const SEARCH_SYNTAX_URI = 'vt://docs/search-syntax';

export const SEARCH_SYNTAX = `# VirusTotal Intelligence search syntax (for vt_search)

Needs a key with VT Intelligence (premium). Without one, use vt_get_report and vt_get_relationships.

## Rules
- Terms are joined by AND unless you write OR; NOT or a leading "-" negates; parentheses group.
- Searches files unless the query has entity: (entity:url, entity:domain, entity:ip, entity:collection).
- Numbers and dates: N (exact), N+ (at least / on or after), N- (at most / on or before); two terms make a
  range (p:5+ p:20-). Dates are YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, or counted back from now:
  fs:7d+ = first seen on or after 7 days ago (the last week), fs:30d- = first seen over 30 days ago.
- Quote any value with spaces, colons or other punctuation: name:"invoice 2024.pdf", ssdeep:"3072:ab…".
- A bare hash, URL, domain or IP searches for that one object.
- Fuzzy-hash searches (ssdeep, tlsh, vhash) are throttled to about 15 a minute and return
  similarity_score with each hit.

## File modifiers
| modifier | meaning | example |
|---|---|---|
| type: | file type | type:peexe, type:pedll, type:pdf, type:doc, type:lnk, type:elf, type:apk, type:js |
| p: / positives: | engines that detect it | p:5+, p:0 |
| <engine>: | one engine's verdict (clean = undetected) | microsoft:clean, kaspersky:trojan |
| engines: | text in any engine's detection name | engines:emotet |
| fs: / first_submission: | first seen | fs:2024-01-01+, fs:7d+ |
| ls: / last_submission: | last submitted | ls:2d+ |
| size: | file size | size:1MB-, size:100KB+ |
| name: | a submitted file name (substring) | name:invoice |
| tag: | VT tag | tag:signed, tag:invalid-signature, tag:64bits, tag:overlay, tag:macros |
| submitter: | submitter country or interface | submitter:US, submitter:web |
| submissions: / sources: | number of submissions / unique sources | submissions:2- |
| itw: | in-the-wild download URL contains | itw:".gov" |
| behaviour: | any sandbox observation | behaviour:"8765-123rvr4" |
| behaviour_network: | sandbox network activity | behaviour_network:evil.com |
| behaviour_files:, behaviour_registry:, behaviour_processes:, behaviour_created_processes:, behaviour_injected_processes:, behaviour_command_executions:, behaviour_services:, behaviour_signature:, behaviour_tags: | one facet of sandbox behaviour | behaviour_registry:CurrentVersion\\Run |
| content: | bytes inside the file: "text" or {hex}, ?? wildcards | content:"evil.com", content:{4d5a9000} |
| imphash: | PE import hash | imphash:f34d5f2d4577ed6d9ceec516c1f5a744 |
| authentihash:, rich_pe_header_hash: | PE hashes | |
| ssdeep: | fuzzy hash (quote it) | ssdeep:"3072:Lz071uv4…:NAB" |
| tlsh: | TLSH | tlsh:T197473353FB69… |
| vhash: | VT structural hash (quote it) | vhash:"016046655d5551z13z200787z57z82z1efz" |
| telfhash: | ELF symbol hash | |
| similar-to: | structurally similar to a file | similar-to:<sha256> |
| main_icon_dhash: / main_icon_md5: | icon similarity / exact icon | main_icon_dhash:71f0cc989386ba80 |
| signature: | Authenticode signature text | signature:"Microsoft Corporation" |
| metadata: | ExifTool / document metadata | metadata:"Microsoft Corporation" |
| imports:, exports:, section:, resource: | PE structure (unverified) | imports:VirtualAllocEx |
| packer: | packer | packer:upx |
| lang: | PE resource language | lang:russian |
| crowdsourced_yara_rule: | a matching crowdsourced YARA rule | crowdsourced_yara_rule:Agenttesla_type2 |
| crowdsourced_ids:, sigma_rule: | IDS / Sigma matches | |
| attack_technique: / attack_tactic: | MITRE ATT&CK mapping | attack_technique:T1055 |
| creation_date: | PE compile time (can be forged) | creation_date:2024-01-01+ |
| comment: / comment_author: | community comments | comment:apt28 |
| contacted_ip: | the file contacted this IP | |

## entity:url
url: (substring), hostname:, fs:, ls:, p:/positives:, title:, response_code: (unverified), tracker: (unverified).
Example: entity:url hostname:example.com p:1+

## entity:domain
domain: (substring), registrar:, creation_date:, whois:, tld:, p:/positives:, jarm:, category: (unverified).
Example: entity:domain domain:ninoseki creation_date:30d+

## entity:ip
ip: (address or CIDR, ip:"8.8.8.8/24"), asn:, aso: (AS owner), country:, p:/positives:, jarm:, whois:, tag:.
Example: entity:ip asn:14061 country:NL p:3+

## Sort orders (order parameter; field then + ascending or - descending)
- files: first_submission_date, last_submission_date (default, descending), positives, times_submitted, size
- urls: the same plus status
- domains: creation_date, last_modification_date, last_update_date, positives
- ips: ip, last_modification_date, positives
Content searches ignore order.

## Pivots
vt_get_report file answers list ready queries (imphash, vhash, ssdeep, tlsh, main_icon_dhash, signature)
under "Pivots (vt_search)". Combine them with narrowing terms, e.g. imphash:… p:5+ fs:90d+.

## When VirusTotal refuses a query
- UnselectiveContentQueryError: the content pattern is too common. Use more, rarer bytes and add
  type:, fs:, p: or size: terms.
- InvalidArgumentError / BadRequestError: a modifier name or value is wrong, quotes are missing, or the
  order does not exist for this entity.

## Worked examples
- type:peexe p:10+ fs:7d+ tag:signed
- engines:trojan tag:signed p:60+ microsoft:clean NOT tag:invalid-signature ls:30d+
- size:1KB- name:eicar type:text
- entity:url hostname:example.com
- behaviour_network:evil.com fs:2024-06-01+
`;
