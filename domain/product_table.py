"""Microsoft's products and service plans as licensebot carries them: the one table that the catalog
(the names admins type), the simulated tenant (the demo's products) and the tests' products read (R1).

Taken from Microsoft's "Product names and service plan identifiers for licensing" table (the mirror
dated 2025-12-30 in ../shared/reference): sku ids, part numbers, product and service plan names are
Microsoft's verbatim, including the capitals and truncations of its Office 365 E4 rows. Aliases are
ours: the short names admins use. A product's service plans are listed (in Microsoft's order) only for
the products the demo tenant sells; the others are carried for their names.
`tests/integration/storage/simulated/test_products.py` checks every row against the CSV.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["COMPANY_PLANS", "COMPANY_PRODUCTS", "PRODUCT_ROWS", "PlanRow", "ProductRow", "plan_row"]


@dataclass(frozen=True, slots=True)
class PlanRow:
    """A service plan as Microsoft's table lists it within one product."""

    id: str
    name: str
    display_name: str


@dataclass(frozen=True, slots=True)
class ProductRow:
    sku_id: str
    part_number: str
    display_name: str
    aliases: tuple[str, ...]
    """What admins type for it besides its names ("E5", "Business Premium"); the products that have
    some are the catalog's common products (`domain.catalog.COMMON_PRODUCTS`)."""
    service_plans: tuple[PlanRow, ...]
    """In Microsoft's order; empty for a product carried for its names only."""


COMPANY_PRODUCTS: Final = frozenset({"SHAREPOINTSTORAGE"})
"""Products that apply to the company, not to users, so they cannot be assigned (R3)."""

COMPANY_PLANS: Final = frozenset(
    {
        "MICROSOFT_SEARCH",
        "Bing_Chat_Enterprise",
        "M365_LIGHTHOUSE_CUSTOMER_PLAN1",
        "M365_LIGHTHOUSE_PARTNER_PLAN1",
        "SHAREPOINTSTORAGE",
    }
)
"""Service plans that apply to the company: they come with the license and are not toggled per user (R5)."""


def _product(
    sku_id: str,
    part: str,
    name: str,
    aliases: tuple[str, ...] = (),
    plans: tuple[tuple[str, str, str], ...] = (),
) -> ProductRow:
    return ProductRow(sku_id, part, name, aliases, tuple(PlanRow(*plan) for plan in plans))


_O365_E3_PLANS: Final = (
    ("dcf9d2f4-772e-4434-b757-77a453cfbc02", "MESH_AVATARS_FOR_TEAMS", "Avatars for Teams"),
    (
        "3efbd4ed-8958-4824-8389-1321f8730af8",
        "MESH_AVATARS_ADDITIONAL_FOR_TEAMS",
        "Avatars for Teams (additional)",
    ),
    ("bea4c11e-220a-4e6d-8eb8-8ea15d019f90", "RMS_S_ENTERPRISE", "Azure Rights Management"),
    (
        "0d0c0d31-fae7-41f2-b909-eaf4d7f26dba",
        "Bing_Chat_Enterprise",
        "Commercial data protection for Microsoft Copilot",
    ),
    ("95b76021-6a53-4741-ab8b-1d1f3d66a95a", "CDS_O365_P2", "Common Data Service for Teams"),
    ("efb87545-963c-4e0d-99df-69c6916d9eb0", "EXCHANGE_S_ENTERPRISE", "Exchange Online (Plan 2)"),
    ("f0ff6ac6-297d-49cd-be34-6dfef97f0c28", "MESH_IMMERSIVE_FOR_TEAMS", "Immersive spaces for Teams"),
    (
        "2b815d45-56e4-4e3a-b65c-66cb9175b560",
        "ContentExplorer_Standard",
        "Information Protection and Governance Analytics – Standard",
    ),
    (
        "5136a095-5cf0-4aff-bec3-e84448b38ea5",
        "MIP_S_CLP1",
        "Information Protection for Office 365 - Standard",
    ),
    ("33c4f319-9bdd-48d6-9c4d-410b750a4a5a", "MYANALYTICS_P2", "Insights by MyAnalytics"),
    ("43de0ff5-c92c-492b-9116-175376d08c38", "OFFICESUBSCRIPTION", "Microsoft 365 Apps for Enterprise"),
    (
        "6f23d6a9-adbf-481c-8538-b4c095654487",
        "M365_LIGHTHOUSE_CUSTOMER_PLAN1",
        "Microsoft 365 Lighthouse (Plan 1)",
    ),
    ("199a5c09-e0ca-4e37-8f7c-b05d533e1ea2", "MICROSOFTBOOKINGS", "Microsoft Bookings"),
    ("2789c901-c14e-48ab-a76a-be334d9d793a", "FORMS_PLAN_E3", "Microsoft Forms (Plan E3)"),
    ("aebd3021-9f8f-4bf8-bbe3-0ed2f4f047a1", "KAIZALA_O365_P3", "Microsoft Kaizala Pro"),
    ("b737dad2-2f6c-4c65-90e3-ca563267e8b9", "PROJECTWORKMANAGEMENT", "Microsoft Planner"),
    ("94065c59-bc8e-4e8b-89e5-5138d471eaff", "MICROSOFT_SEARCH", "Microsoft Search"),
    ("8c7d2df8-86f0-4902-b2ed-a0458298f3b3", "Deskless", "Microsoft StaffHub"),
    ("9e700747-8b1d-45e5-ab8d-ef187ceec156", "STREAM_O365_E3", "Microsoft Stream for Office 365 E3"),
    ("57ff2da0-773e-42df-b2af-ffb7a2317929", "TEAMS1", "Microsoft Teams"),
    ("882e1d05-acd1-4ccb-8708-6ee03664b117", "INTUNE_O365", "Mobile Device Management for Office 365"),
    ("db4d623d-b514-490b-b7ef-8885eee514de", "Nucleus", "Nucleus"),
    ("e95bec33-7c88-4a70-8e19-b10bd9d0c014", "SHAREPOINTWAC", "Office for the Web"),
    ("31b4e2fc-4cd6-4e7d-9c1b-41407303bd66", "PROJECT_O365_P2", "Project for Office (Plan E3)"),
    ("5dbe027f-2339-4123-9542-606e4d348a72", "SHAREPOINTENTERPRISE", "SharePoint (Plan 2)"),
    ("0feaeb32-d00e-4d66-bd5a-43b5b83db82c", "MCOSTANDARD", "Skype for Business Online (Plan 2)"),
    ("a23b959c-7ce8-4e57-9140-b90eb88a9e97", "SWAY", "Sway"),
    ("c87f142c-d1e9-4363-8630-aaea9c4d9ae5", "BPOS_S_TODO_2", "To-Do (Plan 2)"),
    ("a82fbf69-b4d7-49f4-83a6-915b2cf354f4", "VIVAENGAGE_CORE", "Viva Engage Core"),
    ("b76fb638-6ba6-402a-b9f9-83d28acb3d86", "VIVA_LEARNING_SEEDED", "Viva Learning Seeded"),
    ("94a54592-cd8b-425e-87c6-97868b000b91", "WHITEBOARD_PLAN2", "Whiteboard (Plan 2)"),
    ("7547a3fe-08ee-4ccb-b430-5077c5041653", "YAMMER_ENTERPRISE", "Yammer Enterprise"),
    ("4ff01e01-1ba7-4d71-8cf8-ce96c3bbcf14", "DYN365_CDS_O365_P2", "Common Data Service"),
    ("c68f8d98-5534-41c8-bf36-22fa496fa792", "POWERAPPS_O365_P2", "Power Apps for Office 365"),
    ("76846ad7-7776-4c40-a281-a386362dd1b9", "FLOW_O365_P2", "Power Automate for Office 365"),
    (
        "041fe683-03e4-45b6-b1af-c0cdc516daee",
        "POWER_VIRTUAL_AGENTS_O365_P2",
        "Power Virtual Agents for Office 365",
    ),
)


_O365_E4_PLANS: Final = (
    ("c87f142c-d1e9-4363-8630-aaea9c4d9ae5", "BPOS_S_TODO_2", "BPOS_S_TODO_2"),
    ("8c7d2df8-86f0-4902-b2ed-a0458298f3b3", "Deskless", "MICROSOFT STAFFHUB"),
    ("efb87545-963c-4e0d-99df-69c6916d9eb0", "EXCHANGE_S_ENTERPRISE", "EXCHANGE ONLINE (PLAN 2)"),
    ("76846ad7-7776-4c40-a281-a386362dd1b9", "FLOW_O365_P2", "FLOW FOR OFFICE 365"),
    ("2789c901-c14e-48ab-a76a-be334d9d793a", "FORMS_PLAN_E3", "MICROSOFT FORMS (PLAN E3)"),
    ("0feaeb32-d00e-4d66-bd5a-43b5b83db82c", "MCOSTANDARD", "SKYPE FOR BUSINESS ONLINE (PLAN 2)"),
    ("27216c54-caf8-4d0d-97e2-517afb5c08f6", "MCOVOICECONF", "SKYPE FOR BUSINESS ONLINE (PLAN 3)"),
    ("43de0ff5-c92c-492b-9116-175376d08c38", "OFFICESUBSCRIPTION", "OFFICESUBSCRIPTION"),
    ("c68f8d98-5534-41c8-bf36-22fa496fa792", "POWERAPPS_O365_P2", "POWERAPPS FOR OFFICE 36"),
    ("b737dad2-2f6c-4c65-90e3-ca563267e8b9", "PROJECTWORKMANAGEMENT", "MICROSOFT PLANNE"),
    ("bea4c11e-220a-4e6d-8eb8-8ea15d019f90", "RMS_S_ENTERPRISE", "MICROSOFT Microsoft Entra RIGHTS"),
    ("5dbe027f-2339-4123-9542-606e4d348a72", "SHAREPOINTENTERPRISE", "SHAREPOINT ONLINE (PLAN 2)"),
    ("e95bec33-7c88-4a70-8e19-b10bd9d0c014", "SHAREPOINTWAC", "OFFICE ONLINE"),
    ("9e700747-8b1d-45e5-ab8d-ef187ceec156", "STREAM_O365_E3", "MICROSOFT STREAM FOR O365 E3 SKU"),
    ("a23b959c-7ce8-4e57-9140-b90eb88a9e97", "SWAY", "SWAY"),
    ("57ff2da0-773e-42df-b2af-ffb7a2317929", "TEAMS1", "TEAMS1"),
    ("7547a3fe-08ee-4ccb-b430-5077c5041653", "YAMMER_ENTERPRISE", "YAMMER_ENTERPRISE"),
)


_O365_E5_PLANS: Final = (
    ("28b0fa46-c39a-4188-89e2-58e979a6b014", "DYN365_CDS_O365_P3", "Common Data Service - O365 P3"),
    ("afa73018-811e-46e9-988f-f75d2b1b8430", "CDS_O365_P3", "Common Data Service for Teams_P3"),
    ("9f431833-0334-42de-a7dc-70aa40db46db", "LOCKBOX_ENTERPRISE", "Customer Lockbox"),
    ("cd31b152-6326-4d1b-ae1b-997b625182e6", "MIP_S_Exchange", "Data Classification in Microsoft 365"),
    ("efb87545-963c-4e0d-99df-69c6916d9eb0", "EXCHANGE_S_ENTERPRISE", "Exchange Online (Plan 2)"),
    (
        "a6520331-d7d4-4276-95f5-15c0933bc757",
        "GRAPH_CONNECTORS_SEARCH_INDEX",
        "Graph Connectors Search with Index",
    ),
    ("c4801e8a-cb58-4c35-aca6-f2dcc106f287", "INFORMATION_BARRIERS", "Information Barriers"),
    (
        "d9fa6af4-e046-4c89-9226-729a0786685d",
        "Content_Explorer",
        "Information Protection and Governance Analytics - Premium",
    ),
    (
        "2b815d45-56e4-4e3a-b65c-66cb9175b560",
        "ContentExplorer_Standard",
        "Information Protection and Governance Analytics - Standard",
    ),
    ("efb0351d-3b08-4503-993d-383af8de41e3", "MIP_S_CLP2", "Information Protection for Office 365 - Premium"),
    (
        "5136a095-5cf0-4aff-bec3-e84448b38ea5",
        "MIP_S_CLP1",
        "Information Protection for Office 365 - Standard",
    ),
    ("33c4f319-9bdd-48d6-9c4d-410b750a4a5a", "MYANALYTICS_P2", "Insights by MyAnalytics"),
    (
        "a413a9ff-720c-4822-98ef-2f37c2a21f4c",
        "MICROSOFT_COMMUNICATION_COMPLIANCE",
        "M365 Communication Compliance",
    ),
    ("2f442157-a11c-46b9-ae5b-6e39ff4e5849", "M365_ADVANCED_AUDITING", "Microsoft 365 Advanced Auditing"),
    ("43de0ff5-c92c-492b-9116-175376d08c38", "OFFICESUBSCRIPTION", "Microsoft 365 Apps for enterprise"),
    ("3e26ee1f-8a5f-4d52-aee2-b81ce45c8f40", "MCOMEETADV", "Microsoft 365 Audio Conferencing"),
    ("bf28f719-7844-4079-9c78-c1307898e192", "MTP", "Microsoft 365 Defender"),
    ("4828c8ec-dc2e-4779-b502-87ac9ce28ab7", "MCOEV", "Microsoft 365 Phone System"),
    ("bea4c11e-220a-4e6d-8eb8-8ea15d019f90", "RMS_S_ENTERPRISE", "Microsoft Microsoft Entra Rights"),
    ("199a5c09-e0ca-4e37-8f7c-b05d533e1ea2", "MICROSOFTBOOKINGS", "Microsoft Bookings"),
    ("6dc145d6-95dd-4191-b9c3-185575ee6f6b", "COMMUNICATIONS_DLP", "Microsoft Communications DLP"),
    ("6db1f1db-2b46-403f-be40-e39395f08dbb", "CUSTOMER_KEY", "Microsoft Customer Key"),
    ("46129a58-a698-46f0-aa5b-17f6586297d9", "DATA_INVESTIGATIONS", "Microsoft Data Investigations"),
    ("f20fedf3-f3c3-43c3-8267-2bfdd51c0939", "ATP_ENTERPRISE", "Microsoft Defender for Office 365 (Plan 1)"),
    (
        "8e0c0a52-6a6c-4d40-8370-dd62790dcd70",
        "THREAT_INTELLIGENCE",
        "Microsoft Defender for Office 365 (Plan 2)",
    ),
    ("531ee2f8-b1cb-453b-9c21-d2180d014ca5", "EXCEL_PREMIUM", "Microsoft Excel Advanced Analytics"),
    ("e212cbc7-0961-4c40-9825-01117710dcb1", "FORMS_PLAN_E5", "Microsoft Forms (Plan E5)"),
    ("e26c2fcc-ab91-4a61-b35c-03cdc8dddf66", "INFO_GOVERNANCE", "Microsoft Information Governance"),
    ("0898bdbb-73b0-471a-81e5-20f1fe4dd66e", "KAIZALA_STANDALONE", "Microsoft Kaizala"),
    ("34c0d7a0-a70f-4668-9238-47f9fc208882", "EXCHANGE_ANALYTICS", "Microsoft MyAnalytics (Full)"),
    ("b737dad2-2f6c-4c65-90e3-ca563267e8b9", "PROJECTWORKMANAGEMENT", "Microsoft Planner"),
    ("65cc641f-cccd-4643-97e0-a17e3045e541", "RECORDS_MANAGEMENT", "Microsoft Records Management"),
    ("94065c59-bc8e-4e8b-89e5-5138d471eaff", "MICROSOFT_SEARCH", "Microsoft Search"),
    ("8c7d2df8-86f0-4902-b2ed-a0458298f3b3", "Deskless", "Microsoft StaffHub"),
    ("6c6042f5-6f01-4d67-b8c1-eb99d36eed3e", "STREAM_O365_E5", "Microsoft Stream for O365 E5 SKU"),
    ("57ff2da0-773e-42df-b2af-ffb7a2317929", "TEAMS1", "Microsoft Teams"),
    ("882e1d05-acd1-4ccb-8708-6ee03664b117", "INTUNE_O365", "Mobile Device Management for Office 365"),
    ("4de31727-a228-4ec3-a5bf-8e45b5ca48cc", "EQUIVIO_ANALYTICS", "Office 365 Advanced eDiscovery"),
    ("8c098270-9dd4-4350-9b30-ba4703f3b36b", "ADALLOM_S_O365", "Office 365 Advanced Security Management"),
    ("b1188c4c-1b36-4018-b48b-ee07604f6feb", "PAM_ENTERPRISE", "Office 365 Privileged Access Management"),
    ("e95bec33-7c88-4a70-8e19-b10bd9d0c014", "SHAREPOINTWAC", "Office for the web"),
    ("07699545-9485-468e-95b6-2fca3738be01", "FLOW_O365_P3", "Power Automate for Office 365"),
    ("70d33638-9c74-4d01-bfd3-562de28bd4ba", "BI_AZURE_P2", "Power BI Pro"),
    (
        "ded3d325-1bdc-453e-8432-5bac26d7a014",
        "POWER_VIRTUAL_AGENTS_O365_P3",
        "Power Virtual Agents for Office 365 P3",
    ),
    ("9c0dab89-a30c-4117-86e7-97bda240acd2", "POWERAPPS_O365_P3", "PowerApps for Office 365 Plan 3"),
    ("617b097b-4b93-4ede-83de-5f075bb5fb2f", "PREMIUM_ENCRYPTION", "Premium Encryption in Office 365"),
    ("b21a6b06-1988-436e-a07b-51ec6d9f52ad", "PROJECT_O365_P3", "Project for Office (Plan E5)"),
    (
        "41fcdd7d-4733-4863-9cf4-c65b83ce2df4",
        "COMMUNICATIONS_COMPLIANCE",
        "Microsoft Communications Compliance",
    ),
    ("5dbe027f-2339-4123-9542-606e4d348a72", "SHAREPOINTENTERPRISE", "SharePoint (Plan 2)"),
    ("0feaeb32-d00e-4d66-bd5a-43b5b83db82c", "MCOSTANDARD", "Skype for Business Online (Plan 2)"),
    ("a23b959c-7ce8-4e57-9140-b90eb88a9e97", "SWAY", "Sway"),
    ("3fb82609-8c27-4f7b-bd51-30634711ee67", "BPOS_S_TODO_3", "To-Do (Plan 3)"),
    ("a82fbf69-b4d7-49f4-83a6-915b2cf354f4", "VIVAENGAGE_CORE", "Viva Engage Core"),
    ("b76fb638-6ba6-402a-b9f9-83d28acb3d86", "VIVA_LEARNING_SEEDED", "Viva Learning Seeded"),
    ("4a51bca5-1eff-43f5-878c-177680f191af", "WHITEBOARD_PLAN3", "Whiteboard (Plan 3)"),
    ("7547a3fe-08ee-4ccb-b430-5077c5041653", "YAMMER_ENTERPRISE", "Yammer Enterprise"),
)


_O365_F3_PLANS: Final = (
    ("ca6e61ec-d4f4-41eb-8b88-d96e0e14323f", "DYN365_CDS_O365_F1", "Common Data Service - O365 F1"),
    ("90db65a7-bf11-4904-a79f-ef657605145b", "CDS_O365_F1", "Common Data Service for Teams_F1"),
    ("4a82b400-a79f-41a4-b4e2-e94f5787b113", "EXCHANGE_S_DESKLESS", "Exchange Online Kiosk"),
    ("31cf2cfc-6b0d-4adc-a336-88b724ed8122", "RMS_S_BASIC", "Microsoft Azure Rights Management Service"),
    ("199a5c09-e0ca-4e37-8f7c-b05d533e1ea2", "MICROSOFTBOOKINGS", "Microsoft Bookings"),
    ("f07046bd-2a3c-4b96-b0be-dea79d7cbfb8", "FORMS_PLAN_K", "Microsoft Forms (Plan F1)"),
    ("73b2a583-6a59-42e3-8e83-54db46bc3278", "KAIZALA_O365_P1", "Microsoft Kaizala Pro Plan 1"),
    ("b737dad2-2f6c-4c65-90e3-ca563267e8b9", "PROJECTWORKMANAGEMENT", "Microsoft Planner"),
    ("94065c59-bc8e-4e8b-89e5-5138d471eaff", "MICROSOFT_SEARCH", "Microsoft Search"),
    ("8c7d2df8-86f0-4902-b2ed-a0458298f3b3", "Deskless", "Microsoft StaffHub"),
    ("3ffba0d2-38e5-4d5e-8ec0-98f2b05c09d9", "STREAM_O365_K", "Microsoft Stream for Office 365 F3"),
    ("57ff2da0-773e-42df-b2af-ffb7a2317929", "TEAMS1", "Microsoft Teams"),
    ("882e1d05-acd1-4ccb-8708-6ee03664b117", "INTUNE_O365", "Mobile Device Management for Office 365"),
    ("e95bec33-7c88-4a70-8e19-b10bd9d0c014", "SHAREPOINTWAC", "Office for the Web"),
    (
        "c63d4d19-e8cb-460e-b37c-4d6c34603745",
        "OFFICEMOBILE_SUBSCRIPTION",
        "Office Mobile Apps for Office 365",
    ),
    ("e0287f9f-e222-4f98-9a83-f379e249159a", "POWERAPPS_O365_S1", "Power Apps for Office 365 F3"),
    ("bd91b1a4-9f94-4ecf-b45b-3a65e5c8128a", "FLOW_O365_S1", "Power Automate for Office 365 F3"),
    (
        "ba2fdb48-290b-4632-b46a-e4ecc58ac11a",
        "POWER_VIRTUAL_AGENTS_O365_F1",
        "Power Virtual Agents for Office 365 F1",
    ),
    ("7f6f28c2-34bb-4d4b-be36-48ca2e77e1ec", "PROJECT_O365_F3", "Project for Office (Plan F)"),
    ("902b47e5-dcb2-4fdc-858b-c63a90a2bdb9", "SHAREPOINTDESKLESS", "SharePoint Kiosk"),
    ("afc06cb0-b4f4-4473-8286-d644f70d8faf", "MCOIMP", "Skype for Business Online (Plan 1)"),
    ("a23b959c-7ce8-4e57-9140-b90eb88a9e97", "SWAY", "Sway"),
    ("80873e7a-cd2a-4e67-b061-1b5381a676a5", "BPOS_S_TODO_FIRSTLINE", "To-Do (Firstline)"),
    ("a82fbf69-b4d7-49f4-83a6-915b2cf354f4", "VIVAENGAGE_CORE", "Viva Engage Core"),
    ("36b29273-c6d0-477a-aca6-6fbe24f538e3", "WHITEBOARD_FIRSTLINE1", "Whiteboard (Firstline)"),
    ("7547a3fe-08ee-4ccb-b430-5077c5041653", "YAMMER_ENTERPRISE", "Yammer Enterprise"),
)


_BUSINESS_PREMIUM_PLANS: Final = (
    ("39b5c996-467e-4e60-bd62-46066f572726", "DYN365BC_MS_INVOICING", "Microsoft Invoicing"),
    ("dcf9d2f4-772e-4434-b757-77a453cfbc02", "MESH_AVATARS_FOR_TEAMS", "Avatars for Teams"),
    (
        "3efbd4ed-8958-4824-8389-1321f8730af8",
        "MESH_AVATARS_ADDITIONAL_FOR_TEAMS",
        "Avatars for Teams (additional)",
    ),
    ("bea4c11e-220a-4e6d-8eb8-8ea15d019f90", "RMS_S_ENTERPRISE", "Azure Rights Management"),
    ("afa73018-811e-46e9-988f-f75d2b1b8430", "CDS_O365_P3", "Common Data Service for Teams"),
    (
        "0d0c0d31-fae7-41f2-b909-eaf4d7f26dba",
        "Bing_Chat_Enterprise",
        "Commercial data protection for Microsoft Copilot",
    ),
    ("9bec7e34-c9fa-40b7-a9d1-bd6d1165c7ed", "BPOS_S_DlpAddOn", "Data Loss Prevention"),
    ("113feb6c-3fe4-4440-bddc-54d774bf0318", "EXCHANGE_S_FOUNDATION", "Exchange Foundation"),
    ("9aaf7827-d63c-4b61-89c3-182f06f82e5c", "EXCHANGE_S_STANDARD", "Exchange Online (Plan 1)"),
    ("176a09a6-7ec5-4039-ac02-b2791c6ba793", "EXCHANGE_S_ARCHIVE_ADDON", "Exchange Online Archiving"),
    ("33c4f319-9bdd-48d6-9c4d-410b750a4a5a", "MYANALYTICS_P2", "Insights by MyAnalytics"),
    ("094e7854-93fc-4d55-b2c0-3ab5369ebdc1", "OFFICE_BUSINESS", "Microsoft 365 Apps for business"),
    (
        "6f23d6a9-adbf-481c-8538-b4c095654487",
        "M365_LIGHTHOUSE_CUSTOMER_PLAN1",
        "Microsoft 365 Lighthouse (Plan 1)",
    ),
    (
        "d55411c9-cfff-40a9-87c7-240f14df7da5",
        "M365_LIGHTHOUSE_PARTNER_PLAN1",
        "Microsoft 365 Lighthouse (Plan 2)",
    ),
    ("199a5c09-e0ca-4e37-8f7c-b05d533e1ea2", "MICROSOFTBOOKINGS", "Microsoft Bookings"),
    ("a1ace008-72f3-4ea0-8dac-33b3a23a2472", "CLIPCHAMP", "Microsoft Clipchamp"),
    ("bfc1bbd9-981b-4f71-9b82-17c35fd0e2a4", "MDE_SMB", "Microsoft Defender for Business"),
    ("f20fedf3-f3c3-43c3-8267-2bfdd51c0939", "ATP_ENTERPRISE", "Microsoft Defender for Office 365 (Plan 1)"),
    ("159f4cd6-e380-449f-a816-af1a9ef76344", "FORMS_PLAN_E1", "Microsoft Forms (Plan E1)"),
    ("54fc630f-5a40-48ee-8965-af0503c1386e", "KAIZALA_O365_P2", "Microsoft Kaizala Pro"),
    ("c4b8c31a-fb44-4c65-9837-a21f55fcabda", "MICROSOFT_LOOP", "Microsoft Loop"),
    ("b737dad2-2f6c-4c65-90e3-ca563267e8b9", "PROJECTWORKMANAGEMENT", "Microsoft Planner"),
    ("94065c59-bc8e-4e8b-89e5-5138d471eaff", "MICROSOFT_SEARCH", "Microsoft Search"),
    ("8c7d2df8-86f0-4902-b2ed-a0458298f3b3", "Deskless", "Microsoft StaffHub"),
    ("57ff2da0-773e-42df-b2af-ffb7a2317929", "TEAMS1", "Microsoft Teams"),
    ("882e1d05-acd1-4ccb-8708-6ee03664b117", "INTUNE_O365", "Mobile Device Management for Office 365"),
    ("db4d623d-b514-490b-b7ef-8885eee514de", "Nucleus", "Nucleus"),
    ("e95bec33-7c88-4a70-8e19-b10bd9d0c014", "SHAREPOINTWAC", "Office for the Web"),
    (
        "276d6e8a-f056-4f70-b7e8-4fc27f79f809",
        "OFFICE_SHARED_COMPUTER_ACTIVATION",
        "Office Shared Computer Activation",
    ),
    ("b21a6b06-1988-436e-a07b-51ec6d9f52ad", "PROJECT_O365_P3", "Project for Office (Plan E5)"),
    ("c948ea65-2053-4a5a-8a62-9eaaaf11b522", "PURVIEW_DISCOVERY", "Purview Discovery"),
    (
        "5bfe124c-bbdc-4494-8835-f1297d457d79",
        "O365_SB_Relationship_Management",
        "RETIRED - Outlook Customer Manager",
    ),
    ("c7699d2e-19aa-44de-8edf-1736da088ca1", "SHAREPOINTSTANDARD", "SharePoint (Plan 1)"),
    ("0feaeb32-d00e-4d66-bd5a-43b5b83db82c", "MCOSTANDARD", "Skype for Business Online (Plan 2)"),
    ("a23b959c-7ce8-4e57-9140-b90eb88a9e97", "SWAY", "Sway"),
    ("5e62787c-c316-451f-b873-1d05acd4d12c", "BPOS_S_TODO_1", "To-Do (Plan 1)"),
    ("a82fbf69-b4d7-49f4-83a6-915b2cf354f4", "VIVAENGAGE_CORE", "Viva Engage Core"),
    ("b76fb638-6ba6-402a-b9f9-83d28acb3d86", "VIVA_LEARNING_SEEDED", "Viva Learning Seeded"),
    ("b8afc642-032e-4de5-8c0a-507a7bba7e5d", "WHITEBOARD_PLAN1", "Whiteboard (Plan 1)"),
    ("7547a3fe-08ee-4ccb-b430-5077c5041653", "YAMMER_ENTERPRISE", "Yammer Enterprise"),
    ("795f6fe0-cc4d-4773-b050-5dde4dc704c9", "UNIVERSAL_PRINT_01", "Universal Print"),
    ("8e229017-d77b-43d5-9305-903395523b99", "WINBIZ", "Windows 10/11 Business"),
    (
        "7bf960f6-2cd9-443a-8046-5dbff9558365",
        "WINDOWSUPDATEFORBUSINESS_DEPLOYMENTSERVICE",
        "Windows Update for Business Deployment Service",
    ),
    ("de377cbc-0019-4ec2-b77c-3f223947e102", "AAD_SMB", "Azure Active Directory"),
    ("6c57d4b6-3b23-47a5-9bc9-69f17b4947b3", "RMS_S_PREMIUM", "Azure Information Protection Premium P1"),
    ("28b0fa46-c39a-4188-89e2-58e979a6b014", "DYN365_CDS_O365_P3", "Common Data Service"),
    ("8a256a2b-b617-496d-b51b-e76466e88db0", "MFA_PREMIUM", "Microsoft Azure Multi-Factor Authentication"),
    (
        "932ad362-64a8-4783-9106-97849a1a30b9",
        "ADALLOM_S_DISCOVERY",
        "Microsoft Defender for Cloud Apps Discovery",
    ),
    ("41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AAD_PREMIUM", "Microsoft Entra ID P1"),
    ("8e9ff0ff-aa7a-4b20-83c1-2f636b600ac2", "INTUNE_SMBIZ", "Microsoft Intune"),
    ("c1ec4a95-1f05-45b3-a911-aa3fa01094f5", "INTUNE_A", "Microsoft Intune Plan 1"),
    ("743dd19e-1ce3-4c62-a3ad-49ba8f63a2f6", "STREAM_O365_E1", "Microsoft Stream for Office 365 E1"),
    ("92f7a6f3-b89b-4bbd-8c30-809e6da5ad1c", "POWERAPPS_O365_P1", "Power Apps for Office 365"),
    ("0f9b09cb-62d1-4ff4-9129-43f4996f83f4", "FLOW_O365_P1", "Power Automate for Office 365"),
    (
        "ded3d325-1bdc-453e-8432-5bac26d7a014",
        "POWER_VIRTUAL_AGENTS_O365_P3",
        "Power Virtual Agents for Office 365",
    ),
)


_AUDIO_CONFERENCING_PLANS: Final = (
    ("3e26ee1f-8a5f-4d52-aee2-b81ce45c8f40", "MCOMEETADV", "Microsoft 365 Audio Conferencing"),
)


_EXTRA_FILE_STORAGE_PLANS: Final = (
    ("be5a7ed5-c598-4fcd-a061-5e6724c68a58", "SHAREPOINTSTORAGE", "Office 365 Extra File Storage"),
)


PRODUCT_ROWS: Final[Mapping[str, ProductRow]] = {
    product.part_number: product
    for product in (
        _product("18181a46-0d4e-45cd-891e-60aabd171b4e", "STANDARDPACK", "Office 365 E1", ("E1",)),
        _product(
            "6fd2c87f-b296-42f0-b197-1e91e994b900", "ENTERPRISEPACK", "Office 365 E3", ("E3",), _O365_E3_PLANS
        ),
        _product(
            "1392051d-0cb9-4b7a-88d5-621fee5e8711",
            "ENTERPRISEWITHSCAL",
            "Office 365 E4",
            ("E4",),
            _O365_E4_PLANS,
        ),
        _product(
            "c7df2760-2c81-4ef7-b578-5b5392b571df",
            "ENTERPRISEPREMIUM",
            "Office 365 E5",
            ("E5",),
            _O365_E5_PLANS,
        ),
        _product(
            "4b585984-651b-448a-9e53-3b10f069cf7f", "DESKLESSPACK", "Office 365 F3", ("F3",), _O365_F3_PLANS
        ),
        _product("05e9a617-0261-4cee-bb44-138d3ef5d965", "SPE_E3", "Microsoft 365 E3", ("E3", "M365 E3")),
        _product("06ebc4ee-1bb5-47dd-8120-11324bc54e06", "SPE_E5", "Microsoft 365 E5", ("E5", "M365 E5")),
        _product("66b55226-6b4f-492c-910c-a3b7a3c9d993", "SPE_F1", "Microsoft 365 F3", ("F3", "M365 F3")),
        _product(
            "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46",
            "SPB",
            "Microsoft 365 Business Premium",
            ("Business Premium", "BP"),
            _BUSINESS_PREMIUM_PLANS,
        ),
        _product(
            "f245ecc8-75af-4f8e-b61f-27d8114de5f3",
            "O365_BUSINESS_PREMIUM",
            "Microsoft 365 Business Standard",
            ("Business Standard",),
        ),
        _product(
            "3b555118-da6a-4418-894f-7df1e2096870",
            "O365_BUSINESS_ESSENTIALS",
            "Microsoft 365 Business Basic",
            ("Business Basic",),
        ),
        _product(
            "0c266dff-15dd-4b49-8397-2bb16070ed52",
            "MCOMEETADV",
            "Microsoft 365 Audio Conferencing",
            ("Audio Conferencing",),
            _AUDIO_CONFERENCING_PLANS,
        ),
        _product("f8a1db68-be16-40ed-86d5-cb42ce701560", "POWER_BI_PRO", "Power BI Pro", ("PBI Pro",)),
        _product(
            "efccb6f7-5641-4e0e-bd10-b4976e1bf68e", "EMS", "Enterprise Mobility + Security E3", ("EMS E3",)
        ),
        _product(
            "99049c9c-6011-4908-bf17-15f496e6519d",
            "SHAREPOINTSTORAGE",
            "Office 365 Extra File Storage",
            (),
            _EXTRA_FILE_STORAGE_PLANS,
        ),
    )
}


def plan_row(name: str) -> PlanRow:
    """A service plan by its name (`SWAY`), as the first product listing it names it (plan ids are the
    same in every product; Microsoft's display names vary a little between products)."""
    for product in PRODUCT_ROWS.values():
        for plan in product.service_plans:
            if plan.name == name:
                return plan
    raise KeyError(name)
