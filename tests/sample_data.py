"""Made-up data shared by the tests (example.mx / example.com addresses only)."""

from rotomail.company import CompanyProfile

# The tests' company, as a profile and (below) as config.toml.
COMPANY = CompanyProfile(
    code="SM02",
    name="Tinacos Ejemplo S.A. de C.V.",
    rfc="TEJ010101AB1",
    sender="portal@example.mx",
    reply_to="cobranza@example.mx",
    phone="800 000 0000 opción 2",
)

# config.toml of the tests' company (made up, example.mx addresses).
COMPANY_CONFIG = """
[operator]
email = "operador@example.mx"

[companies.SM02]
name = "Tinacos Ejemplo S.A. de C.V."
rfc = "TEJ010101AB1"
sender = "portal@example.mx"
reply_to = "cobranza@example.mx"
phone = "800 000 0000 opción 2"
"""

CUSTOMERS_TSV = (
    "Sociedad\tCliente\tNombre\tRFC\tCorreo\tIdioma\n"
    "SM02\t0001006210\tAgroequipos del Bajío S.A. de C.V.\tABA010101AB1\tcompras@agro.example.mx\tS\n"
    "SM02\t0001001400\tPlomería Central S.A. de C.V.\tPCE020202CD2\t\tS\n"
    "SM02\t0001004273\tFerretería López\tLOFE800101XY3\tpagos@ferrelopez.example.mx\tS\n"
    "SB01\t0002000001\tHidráulica Paulista Ltda.\t\tfinanceiro@paulista.example.com\tP\n"
)

LEDGER_TSV = (
    "Partidas individuales de deudores\n"
    "\n"
    "Sociedad\tCuenta\tNº documento\tClase\tReferencia\tFecha doc.\tVencimiento neto\t"
    "Importe en ML\tML\n"
    "SM02\t0001006210\t1800000001\tRV\tA-1001\t01.10.2026\t31.10.2026\t1.160,00\tMXN\n"
    "SM02\t0001006210\t1800000002\tDG\tNC-17\t05.11.2026\t05.11.2026\t160,00-\tMXN\n"
    "SM02\t0001006210\t1800000003\tRV\tB-77\t10.11.2026\t10.12.2026\t500,00\tUSD\n"
    "SM02\t0001004273\t1800000004\tRV\tA-1002\t01.09.2026\t01.10.2026\t2.500,50\tMXN\n"
    "\t\t\t\t\t\t*\t3.500,50\tMXN\n"
)
